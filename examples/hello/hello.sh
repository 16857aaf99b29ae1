#!/bin/sh
echo "$GREETING"
cat /app/build-info
echo "running as $(id -un)"
