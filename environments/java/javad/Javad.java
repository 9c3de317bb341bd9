// javad: javac kept warm in one JVM, as the daemon's own uid (livecode-runner starts it:
// environment.toml `daemon`). A fresh javac spends most of a second loading and JIT-compiling
// itself; a warm one compiles a program in a fraction of that. It speaks the resident-compiler
// protocol (docs/protocol.md; the build's client is livecode-compile): it compiles the sources
// it is sent into a scratch directory of its own (0700, deleted after each answer) and sends
// the classes back. It never reads a candidate's paths, and runs nothing it compiles. One
// compile at a time: another client hears "busy" at once and compiles by itself; a compile
// whose client leaves, or that runs past COMPILE_LIMIT_MS, ends the daemon.
package livecode.javad;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.ToolProvider;

public final class Javad {
    static final Path SOCKET = Path.of("/run/livecode/compiler.sock");
    static final Path SCRATCH = Path.of("/run/livecode/javad");
    static final int MAGIC = 0x4c434431; // "LCD1"
    /** What a request may carry: a candidate's sources, not a dump of the disk. */
    static final int MAX_BYTES = 8 << 20;
    static final int MAX_FILES = 64;
    /** A compile that runs longer is stuck (or made to be): the daemon ends and the runner
     *  starts another. Below the client's wait (25 s), so a build hears it and compiles alone. */
    static final long COMPILE_LIMIT_MS = 20_000;
    /** Connections served at once; more are closed (their builds compile by themselves). */
    static final int HANDLERS = 8;
    static final int WARMUPS = 6;
    static final Pattern NAME = Pattern.compile("[A-Za-z_$][A-Za-z0-9_$]*\\.java");
    /** The build command's flags (environment.toml), less `-d`. */
    static final List<String> FLAGS = List.of("-cp", "/usr/share/java/guava.jar");

    static final String SAMPLE = String.join("\n",
        "import java.util.*;",
        "import java.util.stream.*;",
        "public class Main {",
        "    record Point(int x, int y) {}",
        "    static final com.google.common.collect.Multiset<String> SEEN = com.google.common.collect.HashMultiset.create();",
        "    public static void main(String[] args) throws Exception {",
        "        List<Point> points = IntStream.range(0, 3).mapToObj(i -> new Point(i, i * i)).collect(Collectors.toList());",
        "        Map<Integer, String> byY = new HashMap<>();",
        "        for (Point p : points) byY.put(p.y(), \"x=\" + p.x());",
        "        Scanner in = new Scanner(System.in);",
        "        System.out.println(in.hasNextLine() ? in.nextLine() : byY.toString());",
        "    }",
        "}", "");

    record Source(String name, byte[] bytes) {}

    record Answer(int exitCode, byte[] diagnostics, List<Source> files) {}

    /** When the compile in progress started (0: none). */
    static final AtomicLong compileStarted = new AtomicLong();
    /** One compile at a time; a client that finds it taken hears BUSY at once. */
    static final Semaphore compiling = new Semaphore(1);
    static final Semaphore handlers = new Semaphore(HANDLERS);

    public static void main(String[] args) throws Exception {
        watchdog();
        // Warm first: until the socket exists, a build compiles in its own JVM as before.
        for (int i = 0; i < WARMUPS; i++) {
            compile(List.of(new Source("Main.java", SAMPLE.getBytes(StandardCharsets.UTF_8))));
        }
        Files.deleteIfExists(SOCKET);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(SOCKET));
        // Builds run as the candidate's uid: any local process may connect, none may replace it.
        Files.setPosixFilePermissions(SOCKET, PosixFilePermissions.fromString("rwxrwxrwx"));
        System.err.println("javad: ready");
        while (true) {
            SocketChannel ch = server.accept();
            // Each connection has a thread of its own, so that a client that sends nothing
            // (or is slow) holds up nobody; past HANDLERS the client compiles by itself.
            if (!handlers.tryAcquire()) {
                ch.close();
                continue;
            }
            Thread handler = new Thread(null, () -> {
                try (ch) {
                    serve(ch);
                } catch (Throwable e) {
                    // Out of memory or stack included: one request's failure is not the daemon's.
                    log("javad: a request failed: " + e);
                } finally {
                    handlers.release();
                }
            }, "javad-client", 4 << 20);
            handler.setDaemon(true);
            handler.start();
        }
    }

    static void serve(SocketChannel ch) throws IOException {
        DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(ch)));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(ch)));
        if (in.readInt() != MAGIC) throw new IOException("not a request");
        List<Source> sources = readSources(in);
        if (!compiling.tryAcquire()) {
            // Busy with another client's compile: this build compiles by itself, now.
            log("javad: busy; a client compiles by itself");
            write(out, new Answer(75, new byte[0], List.of()));
            return;
        }
        Answer answer;
        try {
            // A client that is gone (its run was stopped) gets no compile.
            ch.configureBlocking(false);
            int gone = ch.read(java.nio.ByteBuffer.allocate(1));
            ch.configureBlocking(true);
            if (gone < 0) {
                log("javad: a client left before its compile");
                return;
            }
            AtomicBoolean done = new AtomicBoolean();
            watchClient(ch, done);
            long started = System.nanoTime();
            try {
                answer = compile(sources);
            } finally {
                done.set(true);
            }
            long ms = (System.nanoTime() - started) / 1_000_000;
            log("javad: compiled " + sources.size() + " file(s) in " + ms + " ms, exit " + answer.exitCode());
        } finally {
            compiling.release();
        }
        write(out, answer);
    }

    /** While a compile runs, waits for its client to go: javac cannot be interrupted, so a
     *  compile nobody waits for ends the daemon (the runner starts another before the next
     *  run), rather than keep the next builds from a warm compiler. */
    static void watchClient(SocketChannel ch, AtomicBoolean done) {
        Thread watcher = new Thread(null, () -> {
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(64);
            try {
                while (ch.read(buf) >= 0) buf.clear();
            } catch (IOException e) {
                // Closed: by us after the answer, or by the client.
            }
            if (!done.get()) {
                log("javad: a client left during its compile; cancelling it (the daemon ends)");
                Runtime.getRuntime().halt(3);
            }
        }, "javad-watch", 256 << 10);
        watcher.setDaemon(true);
        watcher.start();
    }

    static void write(DataOutputStream out, Answer answer) throws IOException {
        out.writeInt(answer.exitCode());
        writeBlob(out, answer.diagnostics());
        out.writeInt(answer.files().size());
        for (Source f : answer.files()) {
            writeBlob(out, f.name().getBytes(StandardCharsets.UTF_8));
            writeBlob(out, f.bytes());
        }
        out.flush();
    }

    /** Lines logged so far: the log is capped, so that requests cannot fill its tmpfs. */
    static int logged = 0;

    static synchronized void log(String line) {
        if (logged++ < 2000) System.err.println(line.length() > 300 ? line.substring(0, 300) + "…" : line);
    }

    static void watchdog() {
        Thread thread = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
                long started = compileStarted.get();
                if (started != 0 && System.currentTimeMillis() - started > COMPILE_LIMIT_MS) {
                    log("javad: a compile ran over " + COMPILE_LIMIT_MS / 1000 + " s; ending");
                    Runtime.getRuntime().halt(3);
                }
            }
        });
        thread.setDaemon(true);
        thread.start();
    }

    static List<Source> readSources(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 1 || n > MAX_FILES) throw new IOException("bad file count " + n);
        int[] budget = {MAX_BYTES};
        List<Source> sources = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String name = new String(readBlob(in, budget), StandardCharsets.UTF_8);
            sources.add(new Source(name, readBlob(in, budget)));
        }
        return sources;
    }

    static byte[] readBlob(DataInputStream in, int[] budget) throws IOException {
        int len = in.readInt();
        if (len < 0 || len > budget[0]) throw new IOException("too large");
        budget[0] -= len;
        byte[] bytes = in.readNBytes(len);
        if (bytes.length != len) throw new IOException("cut short");
        return bytes;
    }

    static void writeBlob(DataOutputStream out, byte[] bytes) throws IOException {
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    /** Compiles `sources` (named as the client's javac would print them) into fresh scratch,
     *  made 0700 (nothing of one run's sources or classes is readable by another run) and
     *  deleted before the answer goes. */
    static Answer compile(List<Source> sources) throws IOException {
        deleteTree(SCRATCH);
        Files.createDirectory(SCRATCH, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            return compileIn(sources);
        } finally {
            deleteTree(SCRATCH);
        }
    }

    static Answer compileIn(List<Source> sources) throws IOException {
        Path out = SCRATCH.resolve("out");
        Files.createDirectories(out);
        List<String> args = new ArrayList<>(FLAGS);
        args.add("-d");
        args.add(out.toString());
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) {
            Source source = sources.get(i);
            Path name = Path.of(source.name()).getFileName();
            String base = name == null ? "" : name.toString();
            if (!NAME.matcher(base).matches()) throw new IOException("not a Java source name");
            Path dir = SCRATCH.resolve("src").resolve(Integer.toString(i));
            Files.createDirectories(dir);
            Path path = dir.resolve(base);
            Files.write(path, source.bytes());
            paths.add(path);
            args.add(path.toString());
        }
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        PrintStream printer = new PrintStream(diagnostics, true, StandardCharsets.UTF_8);
        compileStarted.set(System.currentTimeMillis());
        int code;
        try {
            code = ToolProvider.getSystemJavaCompiler().run(null, printer, printer, args.toArray(String[]::new));
        } finally {
            compileStarted.set(0);
        }
        // javac names our scratch copies: the candidate sees the names their own build gave.
        String text = diagnostics.toString(StandardCharsets.UTF_8);
        for (int i = 0; i < paths.size(); i++) {
            text = text.replace(paths.get(i).toString(), sources.get(i).name());
        }
        List<Source> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(out)) {
            for (Path p : (Iterable<Path>) walk.filter(Files::isRegularFile)::iterator) {
                files.add(new Source(out.relativize(p).toString(), Files.readAllBytes(p)));
            }
        }
        return new Answer(code, text.getBytes(StandardCharsets.UTF_8), files);
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        }
    }
}
