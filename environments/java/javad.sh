#!/bin/sh
# javad (javad/Javad.java): the resident compiler, started by livecode-runner as its own uid in
# /run/livecode. A small heap, and C1 only: C2 would go on compiling javac in the background
# while the program runs, in the same CPU quota.
exec java -Xmx192m -Xss2m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xlog:cds*=off \
  -cp /usr/local/lib/livecode/javad livecode.javad.Javad
