#!/bin/sh
# Debian's kotlinc (1.3.31), called without its launcher script, which asks for a deprecated
# JVM flag (a warning on every compile) and a heap too big for a 256 MiB container. Here: a
# bounded heap, C1 only (the compiler runs for seconds, not minutes) and the class-data
# sharing archive made when the image was built (about a fifth faster).
lib=/usr/share/kotlin/kotlinc/lib
exec java -Xmx160m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xlog:cds*=off \
  "${KOTLINC_CDS:--XX:SharedArchiveFile=/usr/local/lib/livecode/kotlinc.jsa}" \
  -cp "$lib/kotlin-compiler.jar:$lib/trove4j.jar:$lib/kotlin-stdlib.jar:$lib/kotlin-reflect.jar:$lib/kotlin-script-runtime.jar:$lib/annotations-13.0.jar" \
  org.jetbrains.kotlin.cli.jvm.K2JVMCompiler -kotlin-home /usr/share/kotlin/kotlinc "$@"
