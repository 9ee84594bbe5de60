#!/bin/sh
# The smallest CGI program (RFC 3875 §6): a header block, a blank line, the body.
printf 'Content-Type: text/plain\r\n\r\nhello from %s\n' "$SCRIPT_NAME"
