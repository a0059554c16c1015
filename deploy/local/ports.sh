# shellcheck shell=bash
# Sourced by the local start scripts. Every local listener sits below Linux's ephemeral port range
# (32768-60999): a port in that range can be taken at random as the local end of an outgoing
# connection (and held in TIME-WAIT), and the server then fails to bind.

# "127.0.0.1:PORT is taken by <the process that holds it>", for error messages.
port_holder() {
  local who
  who="$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(.*)' | head -n1 || true)"
  echo "127.0.0.1:$1 is taken by ${who:-another process (run: ss -ltnp 'sport = :$1')}"
}

# Wait (up to 10 s) until a process just started in the background has become the program it runs: until
# then it is a fork of the calling shell (or setsid, nohup on their way to it), and a check of its command line or name (is it our broker?) fails
# as if it had died. On a busy machine that window lasts long enough to be seen (the chaos suite saw it).
await_exec() {
  local pid="$1" i
  for ((i = 0; i < 200; i++)); do
    case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
      */bash | */setsid | */nohup) sleep 0.05 ;;  # not yet the program
      *) return 0 ;;  # the program, or gone
    esac
  done
}
