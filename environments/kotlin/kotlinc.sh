#!/bin/sh
# The build's kotlinc. First through the resident compiler, kotlind, warm in its own JVM
# (livecode-runner starts it with the container: environment.toml `daemon`); when it does not
# answer (exit 75: not warm yet, or gone), kotlinc in a JVM of its own, started without its
# launcher script, whose heap is too big for the container. Here: a bounded heap, C1 only (the
# compiler runs for seconds, not minutes) and the class-data sharing archive made when the
# image was built (a cold compile in a third of the time).
if [ -S /run/livecode/compiler.sock ] && [ -z "$KOTLINC_CDS$LIVECODE_NO_DAEMON" ]; then
  livecode-compile /run/livecode/compiler.sock "$@"
  status=$?
  [ "$status" -eq 75 ] || exit "$status"
fi
lib=/usr/local/lib/kotlinc/lib
exec java -Xmx320m -Xss2m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xlog:cds*=off \
  --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  "${KOTLINC_CDS:--XX:SharedArchiveFile=/usr/local/lib/livecode/kotlinc.jsa}" \
  -Dkotlin.home=/usr/local/lib/kotlinc -Dkotlin.colors.enabled=false -cp "$lib/kotlin-compiler.jar" \
  org.jetbrains.kotlin.cli.jvm.K2JVMCompiler -no-stdlib -no-reflect -cp "$lib/kotlin-stdlib.jar" "$@"
