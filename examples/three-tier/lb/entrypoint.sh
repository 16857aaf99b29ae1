#!/bin/sh
# nginx.conf from the environment: listen on $LISTEN (a port, or
# ADDRESS:PORT), pass requests round-robin to $BACKENDS (space-separated
# HOST:PORT; names are resolved when nginx starts, from the /etc/hosts the
# network keeps). The master runs as root; its workers switch to www-data
# (setgid/setuid: docker's default capabilities allow it).
set -e
{
	echo 'user www-data;'
	echo 'worker_processes 2;'
	echo 'pid /run/nginx.pid;'
	echo 'error_log stderr notice;'
	echo 'events { worker_connections 256; }'
	echo 'http {'
	echo '  access_log off;'
	echo '  upstream app {'
	for b in $BACKENDS; do
		echo "    server $b;"
	done
	echo '  }'
	echo '  server {'
	echo "    listen $LISTEN;"
	echo '    location / { proxy_pass http://app; }'
	echo '  }'
	echo '}'
} >/etc/nginx/nginx.conf
echo "lb: $LISTEN -> $BACKENDS"
exec nginx -g 'daemon off;'
