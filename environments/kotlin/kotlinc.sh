#!/bin/sh
# kotlinc, called without its launcher script, whose heap is too big for the container. Here:
# a bounded heap, C1 only (the compiler runs for seconds, not minutes) and the class-data
# sharing archive made when the image was built (a compile in a third of the time).
lib=/usr/local/lib/kotlinc/lib
exec java -Xmx320m -Xss2m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xlog:cds*=off \
  "${KOTLINC_CDS:--XX:SharedArchiveFile=/usr/local/lib/livecode/kotlinc.jsa}" \
  -Dkotlin.home=/usr/local/lib/kotlinc -cp "$lib/kotlin-compiler.jar" \
  org.jetbrains.kotlin.cli.jvm.K2JVMCompiler -no-stdlib -no-reflect -cp "$lib/kotlin-stdlib.jar" "$@"
