#!/bin/sh
# irc-client-demo.sh: drives real terminal IRC clients (irssi, and WeeChat when installed)
# against a freshly started uvchat, next to a plain nc user, and prints what each screen
# showed: a plain chat, an IRCv3 session typed by hand (server-time, echo-message, msgid,
# invite-notify, setname) and a moderation round (+m, a voice, bans, a kick) that the nc user
# sees. Fails when a client shows an error or a step does not happen.
#
#   sh scripts/irc-client-demo.sh [path/to/uvchat]
#
# Needs tmux, nc and irssi. Everything runs on free ports, in a private tmux server with
# throw-away client homes; every process started here is stopped by its PID at the end.
set -eu

cd "$(dirname "$0")/.."
BIN="${1:-build/irc/uvchat}"
[ -x "$BIN" ] || BIN=build/dev/uvchat
for tool in tmux nc irssi; do
  command -v "$tool" >/dev/null 2>&1 || { echo "irc-client-demo: $tool is missing" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "irc-client-demo: no uvchat binary (build first)" >&2; exit 2; }

WORK=$(mktemp -d)
SOCK="uvchat-demo-$$"
SERVER_PID=""
FAILED=0

tm() { tmux -L "$SOCK" "$@"; }

cleanup() {
  # The panes' processes first (by PID), then our private tmux server, then uvchat.
  for pid in $(tm list-panes -a -F '#{pane_pid}' 2>/dev/null); do
    kill "$pid" 2>/dev/null || true
  done
  tm kill-server 2>/dev/null || true
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    i=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

# Prints a pane (window target) without trailing blank lines.
pane() { tm capture-pane -p -J -t "demo:$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }

# Waits up to 10 s for text to appear in a pane.
wait_for() {
  i=0
  while [ $i -lt 100 ]; do
    if pane "$1" | grep -F -q -- "$2"; then return 0; fi
    sleep 0.1
    i=$((i + 1))
  done
  echo "irc-client-demo: FAILED: \"$2\" never appeared in $1; it shows:" >&2
  pane "$1" >&2
  FAILED=1
  return 1
}

type_in() { tm send-keys -t "demo:$1" -l -- "$2"; tm send-keys -t "demo:$1" Enter; }

show() {
  echo "----- $2 -----"
  pane "$1"
}

# Fails when a screen shows an error reply or a refusal.
check_clean() {
  if pane "$1" | grep -E -i -q \
    "unknown command|not registered|not enough parameters|no such (nick|channel)|erroneous|already in use|cannot send|unknown mode|closing link|error"; then
    echo "irc-client-demo: FAILED: $2 shows an error:" >&2
    pane "$1" | grep -E -i "unknown command|not registered|not enough parameters|no such|erroneous|already in use|cannot send|unknown mode|closing link|error" >&2
    FAILED=1
  fi
}

# --- the server ---------------------------------------------------------------------------
"$BIN" --port 0 --irc-port 0 --host 127.0.0.1 >"$WORK/out" 2>"$WORK/log" &
SERVER_PID=$!
i=0
while ! grep -q "(irc)" "$WORK/out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
TEXT_PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (text)$/\1/p' "$WORK/out")
IRC_PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (irc)$/\1/p' "$WORK/out")
[ -n "$TEXT_PORT" ] && [ -n "$IRC_PORT" ] || { echo "irc-client-demo: uvchat did not start" >&2; cat "$WORK/log" >&2; exit 1; }
echo "uvchat (pid $SERVER_PID): text port $TEXT_PORT, IRC port $IRC_PORT"

# --- an nc user and an irssi user ---------------------------------------------------------
tm new-session -d -s demo -x 110 -y 30 -n nc "nc 127.0.0.1 $TEXT_PORT"
wait_for nc "Welcome to uvchat, guest1"
mkdir "$WORK/irssi"
tm new-window -d -t demo -n irssi \
  "irssi --home=$WORK/irssi -c 127.0.0.1 -p $IRC_PORT -n alice"
wait_for irssi "MOTD File is missing"
type_in irssi "/join #lobby" # IRC clients join what they ask for (the greeting says where)
wait_for nc "*** alice joined #lobby"
type_in irssi "hello from irssi"
wait_for nc "<alice> hello from irssi"
type_in nc "hello from nc"
wait_for irssi "hello from nc"
type_in nc "/msg alice a private word"
type_in irssi "/msg guest1 and one back"
wait_for nc "[private] <alice> and one back"
type_in irssi "/me waves"
wait_for nc "* alice waves"

# --- an IRCv3 session typed by hand: server-time, echo-message, msgid -----------------------
tm new-window -d -t demo -n ircv3 "nc -C 127.0.0.1 $IRC_PORT"
type_in ircv3 "CAP LS 302"
wait_for ircv3 "echo-message"
type_in ircv3 "NICK carol"
type_in ircv3 "USER carol 0 * :Carol by hand"
type_in ircv3 "CAP REQ :server-time echo-message message-tags invite-notify setname"
wait_for ircv3 "ACK :server-time echo-message message-tags invite-notify setname"
type_in ircv3 "CAP END"
wait_for ircv3 "Plain-text users (nc, telnet) talk in #lobby"
type_in ircv3 "JOIN #lobby"
wait_for ircv3 "366 carol #lobby"
type_in ircv3 "PRIVMSG #lobby :an IRCv3 hello, echoed back with its time and id"
wait_for ircv3 ":carol!~carol@uvchat PRIVMSG #lobby :an IRCv3 hello"
wait_for irssi "an IRCv3 hello"
type_in nc "the text user answers"
wait_for ircv3 ";msgid="
show ircv3 "a raw IRCv3 session (nc -C): every line from the others carries @time= and @msgid=; its own message comes back (echo-message)"

# --- WeeChat too, when it is installed ----------------------------------------------------
WEECHAT=""
command -v weechat >/dev/null 2>&1 && WEECHAT=weechat
if [ -n "$WEECHAT" ]; then
  mkdir "$WORK/weechat"
  tm new-window -d -t demo -n weechat \
    "$WEECHAT --dir $WORK/weechat -r '/server add uvchat 127.0.0.1/$IRC_PORT;/set irc.server.uvchat.nicks bob;/set irc.server.uvchat.username bob;/set irc.server.uvchat.autojoin #lobby;/connect uvchat'"
  wait_for nc "*** bob joined #lobby"
  type_in weechat "/buffer #lobby"
  type_in weechat "hi, bob here on WeeChat"
  wait_for nc "<bob> hi, bob here on WeeChat"
  wait_for irssi "hi, bob here on WeeChat"
  type_in nc "welcome bob"
  wait_for weechat "welcome bob"
fi

# --- a moderation round in #mod: alice (irssi) runs it, the nc user is moderated ------------
type_in irssi "/join #mod" # a new room: alice is its operator
wait_for irssi "#mod: Total of 1 nicks"
type_in ircv3 "JOIN #mod"
wait_for ircv3 "366 carol #mod"
type_in irssi "/invite guest1 #mod"
wait_for nc "*** alice invites you to #mod: type /join #mod"
wait_for ircv3 "@uvchat INVITE guest1 #mod" # invite-notify: carol is told too
type_in nc "/join #mod"
wait_for irssi "guest1"
if [ -n "$WEECHAT" ]; then
  type_in weechat "/join #mod"
  wait_for nc "*** bob joined #mod"
fi
type_in irssi "/mode #mod +m"
wait_for nc "*** alice changed #mod: only voiced people and operators may talk"
type_in nc "may I speak?"
wait_for nc "moderated: only voiced people and operators may talk"
type_in irssi "/voice guest1"
wait_for nc "*** alice gave guest1 a voice in #mod"
type_in nc "thanks for the voice"
wait_for irssi "thanks for the voice"
wait_for ircv3 "PRIVMSG #mod :thanks for the voice"
type_in irssi "/mode #mod +b troll*!*@*"
wait_for nc "*** alice banned troll*!*@* from #mod"
if [ -n "$WEECHAT" ]; then
  type_in irssi "/mode #mod +b bob!*@*"
  wait_for nc "*** alice banned bob!*@* from #mod"
  type_in irssi "/kick bob out for the demo"
  wait_for nc "*** alice removed bob from #mod (out for the demo)"
  type_in weechat "/join #mod"
  wait_for weechat "Cannot join channel (+b)"
fi
type_in ircv3 "SETNAME :Carol, renamed" # setname: the change comes back to her
wait_for ircv3 ":carol!~carol@uvchat SETNAME :Carol, renamed"
show ircv3 "a raw IRCv3 session (nc -C), later: the invitation to guest1 (invite-notify), the moderation as MODE lines, the new real name (setname)"
show nc "nc user in #mod"

# --- irssi's status window, then everyone quits -------------------------------------------
type_in irssi "/window 1"
sleep 0.5
show irssi "irssi: status window"
check_clean irssi "irssi's status window"
type_in irssi "/window 2"
sleep 0.5
show irssi "irssi: #lobby"
check_clean irssi "irssi's #lobby window"
type_in irssi "/window goto #mod"
sleep 0.5
show irssi "irssi: #mod, where alice moderated"
check_clean irssi "irssi's #mod window"
type_in irssi "/window 2"
if [ -n "$WEECHAT" ]; then
  show weechat "WeeChat: its current buffer (#mod, which bob was kicked and banned from)"
  check_clean weechat "WeeChat's current buffer"
  type_in weechat "/buffer uvchat"
  sleep 0.5
  show weechat "WeeChat: server buffer"
  check_clean weechat "WeeChat's server buffer"
  type_in weechat "/quit"
  wait_for irssi "bob [~bob@uvchat] has quit" # (the nc user is in #mod, bob was kicked out of it)
fi
type_in irssi "/quit demo done"
wait_for nc "*** alice left (quit: demo done)"
show nc "nc user"

if [ "$FAILED" -ne 0 ]; then
  echo "irc-client-demo: FAILED" >&2
  exit 1
fi
echo "irc-client-demo: OK"
