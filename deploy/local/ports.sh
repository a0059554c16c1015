# Sourced by the local start scripts. Every local listener sits below Linux's ephemeral port range
# (32768-60999): a port in that range can be taken at random as the local end of an outgoing
# connection (and held in TIME-WAIT), and the server then fails to bind.

# "127.0.0.1:PORT is taken by <the process that holds it>", for error messages.
port_holder() {
  local who
  who="$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(.*)' | head -n1 || true)"
  echo "127.0.0.1:$1 is taken by ${who:-another process (run: ss -ltnp 'sport = :$1')}"
}
