"""STAND-INS: local servers for counterparts we cannot reach from here (SP4N-LAPOR!, a mail
server). They speak the protocol our code uses and nothing more. Never deploy them."""
