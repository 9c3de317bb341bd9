#!/bin/sh
# kotlind (kotlind/Server.kt): the resident compiler, started by livecode-runner as its own uid
# in /run/livecode. The JVM flags of livecode-kotlinc, and the same class-data sharing archive.
lib=/usr/local/lib/kotlinc/lib
exec java -Xmx320m -Xss2m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xlog:cds*=off \
  --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  -XX:SharedArchiveFile=/usr/local/lib/livecode/kotlinc.jsa \
  -Dkotlin.home=/usr/local/lib/kotlinc -Dkotlin.colors.enabled=false \
  -cp "$lib/kotlin-compiler.jar:/usr/local/lib/kotlinc/kotlind" livecode.kotlind.ServerKt
