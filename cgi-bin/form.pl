#!/usr/bin/perl
# A GET/POST form in the classic CGI way: parse QUERY_STRING or stdin, escape what we echo.
use strict;
use warnings;

sub unescape { my $s = shift; $s =~ tr/+/ /; $s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge; return $s; }
sub html { my $s = shift; $s =~ s/&/&amp;/g; $s =~ s/</&lt;/g; $s =~ s/>/&gt;/g; $s =~ s/"/&quot;/g; $s =~ s/'/&#39;/g; return $s; }

my $method = $ENV{REQUEST_METHOD} // 'GET';
my $data = $ENV{QUERY_STRING} // '';
if ($method eq 'POST') {
    my $len = $ENV{CONTENT_LENGTH} // 0;
    $len = 1_000_000 if $len > 1_000_000;
    read(STDIN, $data, $len) if $len > 0;
}
my %form;
for my $pair (split /[&;]/, $data) {
    my ($k, $v) = split /=/, $pair, 2;
    $form{unescape($k // '')} = unescape($v // '');
}
my $name = html($form{name} // '');
my $self = html($ENV{SCRIPT_NAME} // '');

print "Content-Type: text/html; charset=utf-8\r\n\r\n";
print "<!doctype html>\n<title>form.pl</title>\n";
print "<form method=\"post\" action=\"$self\"><label>Name <input name=\"name\" value=\"$name\"></label> <button>Send</button></form>\n";
print "<p>Hello, <b>$name</b> ($method)</p>\n" if $name ne '';
