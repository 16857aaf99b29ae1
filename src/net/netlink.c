/* rtnetlink requests through libmnl: each is one message on its own
 * socket, answered by an ack, so the caller's netns is the one changed
 * (a sandbox child calls these after its clone). */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>
#include <time.h>

/* Requests are small and answers are acks (MNL_SOCKET_BUFFER_SIZE is a VLA). */
#define NL_BUF 8192

/* Send NLH, wait for its ack; -1 with errno as the kernel said. */
static int nl_request(struct nlmsghdr *nlh)
{
	char buf[NL_BUF];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	unsigned seq = (unsigned)time(NULL), portid;
	ssize_t n;
	int r = -1, saved;
	if (!nl)
		return -1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out;
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			goto out;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
	} while (r > 0);        /* MNL_CB_OK before the ack: keep reading */
	r = r < 0 ? -1 : 0;
out:
	saved = errno;
	mnl_socket_close(nl);
	errno = saved;
	return r;
}

static struct nlmsghdr *link_msg(char *buf, unsigned short type, unsigned short flags, int index)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = index;
	return nlh;
}

int net_nl_link_index(const char *name)
{
	return (int)if_nametoindex(name);
}

int net_nl_bridge_add(const char *name, cn_err *err)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	struct nlattr *info;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, info);
	if (nl_request(nlh) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create the bridge %s", name);
	return 0;
}

int net_nl_veth_add(const char *name, const char *peer, pid_t peer_netns_pid, unsigned mtu,
		    cn_err *err)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	struct nlattr *info, *data, *pinfo;
	struct ifinfomsg *pifm;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* The peer is described as a link message of its own inside the nest. */
	pinfo = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t)peer_netns_pid);
	mnl_attr_nest_end(nlh, pinfo);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	if (nl_request(nlh) < 0)
		return cn_err_sys(err, "create the veth pair %s", name);
	return 0;
}

int net_nl_link_set(const char *name, const char *master, bool up, cn_err *err)
{
	char buf[NL_BUF];
	int index = net_nl_link_index(name), mindex = 0;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	if (index == 0)
		return cn_err_sys(err, "find the interface %s", name);
	if (master && (mindex = net_nl_link_index(master)) == 0)
		return cn_err_sys(err, "find the bridge %s", master);
	nlh = link_msg(buf, RTM_NEWLINK, 0, index);
	ifm = mnl_nlmsg_get_payload(nlh);
	if (up) {
		ifm->ifi_flags = IFF_UP;
		ifm->ifi_change = IFF_UP;
	}
	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)mindex);
	if (nl_request(nlh) < 0)
		return cn_err_sys(err, "configure the interface %s", name);
	return 0;
}

int net_nl_link_del(const char *name, cn_err *err)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (nl_request(nlh) < 0 && errno != ENODEV)
		return cn_err_sys(err, "remove the interface %s", name);
	return 0;
}

/* A new object (address, route) on the link NAME: its header in BUF. */
static struct nlmsghdr *new_on_link(char *buf, unsigned short type, const char *name, int *index,
				    cn_err *err)
{
	struct nlmsghdr *nlh;
	*index = net_nl_link_index(name);
	if (*index == 0) {
		cn_err_sys(err, "find the interface %s", name);
		return NULL;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	return nlh;
}

int net_nl_addr_add(const char *name, uint32_t addr, unsigned prefix, cn_err *err)
{
	char buf[NL_BUF];
	int index;
	struct nlmsghdr *nlh = new_on_link(buf, RTM_NEWADDR, name, &index, err);
	struct ifaddrmsg *ifa;
	uint32_t be = htonl(addr), bcast = htonl(addr | (prefix ? 0xffffffffu >> prefix : 0));
	if (!nlh)
		return -1;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)index;
	mnl_attr_put_u32(nlh, IFA_LOCAL, be);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, be);
	mnl_attr_put_u32(nlh, IFA_BROADCAST, bcast);
	if (nl_request(nlh) < 0 && errno != EEXIST)
		return cn_err_sys(err, "set the address of %s", name);
	return 0;
}

int net_nl_route_default(const char *name, uint32_t gateway, cn_err *err)
{
	char buf[NL_BUF];
	int index;
	struct nlmsghdr *nlh = new_on_link(buf, RTM_NEWROUTE, name, &index, err);
	struct rtmsg *rtm;
	if (!nlh)
		return -1;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
	if (nl_request(nlh) < 0)
		return cn_err_sys(err, "add the default route via %s", name);
	return 0;
}
