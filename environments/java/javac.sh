#!/bin/sh
# The build's javac. First through the resident compiler, javad, warm in its own JVM
# (livecode-runner starts it with the container: environment.toml `daemon`); when it does not
# answer (exit 75: not warm yet, or gone), javac by itself, with C1 only and the class-data
# sharing archive made when the image was built (a compile about a third faster).
if [ -S /run/livecode/compiler.sock ] && [ -z "$LIVECODE_NO_DAEMON" ]; then
  livecode-compile /run/livecode/compiler.sock "$@"
  status=$?
  [ "$status" -eq 75 ] || exit "$status"
fi
exec javac -J-XX:+UseSerialGC -J-XX:TieredStopAtLevel=1 -J-Xlog:cds*=off \
  -J-XX:SharedArchiveFile=/usr/local/lib/livecode/javac.jsa -cp /usr/share/java/guava.jar "$@"
