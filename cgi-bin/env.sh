#!/bin/sh
# Prints the CGI meta-variables this script received (RFC 3875 §4.1): the lab's first exercise.
# Try /cgi-bin/env.sh/some/path?a=1 and compare SCRIPT_NAME, PATH_INFO, QUERY_STRING.
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
env | LC_ALL=C sort
