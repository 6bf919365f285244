# embed-sh.awk: a shell file with parts as C strings, for steps/remote-agent.sh.
#
# A line "#@part NAME" starts a part; the part becomes `const char ssh_agent_NAME[]`, its
# lines joined with newlines. Lines before the first part, empty lines and comment lines are
# left out, but for shellcheck directives ("# shellcheck ..."), which stay with the code they
# govern. Plain POSIX awk: backslashes and quotes are escaped one character at a time.

function cstr(s,    out, i, ch) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		ch = substr(s, i, 1)
		if (ch == "\\" || ch == "\"")
			out = out "\\" ch
		else if (ch == "\t")
			out = out "\\t"
		else
			out = out ch
	}
	return "\"" out "\\n\""
}

BEGIN {
	print "/* Made from steps/remote-agent.sh by build-aux/embed-sh.awk: do not edit. */"
	part = ""
}

/^#@part [a-z][a-z0-9_]*$/ {
	if (part != "")
		print "\t;"
	part = $2
	printf "\nconst char ssh_agent_%s[] =\n\t\"\"\n", part
	next
}

part == "" { next }
/^[ \t]*$/ { next }
/^[ \t]*#/ && !/^[ \t]*# shellcheck / { next }
{ print "\t" cstr($0) }

END {
	if (part != "")
		print "\t;"
}
