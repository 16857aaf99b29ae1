/* A store's networks/NAME.json (net/netdef.c) is outside input: any text
 * is refused or gives a definition whose bridge is derived from its id,
 * whose name is the file's, whose labels are strings, and whose docker
 * form parses back to the same network. */
#include "fuzz.h"

#include "net/netdef.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_def d, again;
	char want[IFNAMSIZ];
	cn_err err;
	json_t *j;
	char *text;
	if (net_def_parse((const char *)data, size, "n", &d, &err) < 0)
		return 0;
	snprintf(want, sizeof(want), "cn-%.8s", d.id);
	if (strcmp(d.conf.bridge, want) || strcmp(d.name, "n") || strspn(d.id, "0123456789abcdef") != 64 ||
	    !d.conf.named || d.conf.prefix < 8 || d.conf.prefix > 30)
		abort();
	(void)net_def_has_label(&d, "k");
	(void)net_def_has_label(&d, "k=v");
	j = net_def_json(&d);
	text = j ? json_dumps(j, 0) : NULL;
	if (!text || net_def_parse(text, strlen(text), "n", &again, &err) < 0 || strcmp(again.id, d.id) ||
	    again.conf.subnet != d.conf.subnet || again.conf.prefix != d.conf.prefix ||
	    again.conf.internal != d.conf.internal || !json_equal(again.labels, d.labels))
		abort();
	net_def_free(&again);
	free(text);
	json_decref(j);
	net_def_free(&d);
	return 0;
}
