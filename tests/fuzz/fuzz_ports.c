/* cairn run -p specs (net/ports.c): any string is refused or gives ports
 * within range whose docker form parses back to the same ports. */
#include "fuzz.h"

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	struct net_port p, again;
	cn_err err;
	if (net_port_parse(s, &p, &err) == 0) {
		if (p.count == 0 || p.ctr_port == 0 || (unsigned)p.ctr_port + p.count - 1 > 65535 ||
		    (p.host_port && (unsigned)p.host_port + p.count - 1 > 65535))
			abort();
		if (p.host_port) {
			/* "IP:H->C/proto" back as "IP:H:C/proto". */
			char *str = net_port_str(&p), *arrow = strstr(str, "->"), *spec;
			if (!arrow)
				abort();
			*arrow = '\0';
			spec = cn_xasprintf("%s:%s", str, arrow + 2);
			if (net_port_parse(spec, &again, &err) < 0 || memcmp(&p, &again, sizeof(p)) != 0)
				abort();
			free(spec);
			free(str);
		}
	}
	free(s);
	return 0;
}
