// kotlind: Kotlin's compiler kept warm in one JVM, as the daemon's own uid (see the
// runner's daemon.rs). A fresh kotlinc spends seconds loading and JIT-compiling itself; a warm
// one compiles hello world in a fraction of that. It compiles sources it is sent into a
// scratch directory of its own (0700, deleted after each answer) and sends the classes back: it
// never reads a candidate's paths, and runs nothing it compiles. One compile at a time: another
// client hears "busy" at once and compiles by itself; a compile whose client leaves, or that
// runs past COMPILE_LIMIT_MS, ends the daemon.
package livecode.kotlind

import java.io.BufferedInputStream
import java.io.BufferedOutputStream
import java.io.ByteArrayOutputStream
import java.io.DataInputStream
import java.io.DataOutputStream
import java.io.PrintStream
import java.net.StandardProtocolFamily
import java.net.UnixDomainSocketAddress
import java.nio.channels.Channels
import java.nio.ByteBuffer
import java.nio.channels.ServerSocketChannel
import java.nio.channels.SocketChannel
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.nio.file.attribute.PosixFilePermissions
import java.util.concurrent.Semaphore
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import org.jetbrains.kotlin.cli.jvm.K2JVMCompiler

private const val STDLIB = "/usr/local/lib/kotlinc/lib/kotlin-stdlib.jar"
private val SCRATCH: Path = Paths.get("/run/livecode/kotlind")
/** A compile that runs longer is stuck (or made to be): the daemon ends and the runner
 *  starts another. Below the client's wait (25 s), so a build hears it and compiles alone. */
private const val COMPILE_LIMIT_MS = 20_000L
/** Connections served at once; more are closed (their builds compile by themselves). */
private const val HANDLERS = 8
private const val WARMUPS = 4
private val NAME = Regex("[A-Za-z0-9_$][A-Za-z0-9_.$-]*\\.kt")

private val SAMPLE = """
    data class Point(val x: Int, val y: Int)
    fun main() {
        val points = (1..3).map { Point(it, it * it) }.filter { it.y > 1 }.sortedBy { it.x }
        val byY = mutableMapOf<Int, String>()
        for ((x, y) in points) byY[y] = "x=${'$'}x"
        val line = readlnOrNull()
        when (val n = line?.trim()?.split(" ")?.sumOf { it.toLong() }) { null -> println(byY) else -> println(n) }
    }
""".trimIndent().toByteArray()

/** When the compile in progress started (0: none). */
private val compileStarted = AtomicLong(0)
/** One compile at a time; a client that finds it taken hears BUSY at once. */
private val compiling = Semaphore(1)
private val handlers = Semaphore(HANDLERS)

fun main() {
    watchdog()
    // Warm first: until the socket exists, a client compiles in its own JVM as before.
    repeat(WARMUPS) { compile(listOf(Source("main.kt", SAMPLE))) }
    val socket = Paths.get(SOCKET)
    Files.deleteIfExists(socket)
    val server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
    server.bind(UnixDomainSocketAddress.of(socket))
    // Builds run as the candidate's uid: any local process may connect, none may replace it.
    Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rwxrwxrwx"))
    System.err.println("kotlind: ready")
    while (true) {
        val ch = server.accept()
        // Each connection has a thread of its own, so that a client that sends nothing (or is
        // slow) holds up nobody; past HANDLERS the client compiles by itself.
        if (!handlers.tryAcquire()) {
            ch.close()
            continue
        }
        val handler = Thread(null, {
            try {
                ch.use { serve(it) }
            } catch (e: Throwable) {
                // Out of memory or stack included: one request's failure is not the daemon's.
                log("kotlind: a request failed: $e")
            } finally {
                handlers.release()
            }
        }, "kotlind-client", 8L shl 20)
        handler.isDaemon = true
        handler.start()
    }
}

private fun serve(ch: SocketChannel) {
    val input = DataInputStream(BufferedInputStream(Channels.newInputStream(ch)))
    val output = DataOutputStream(BufferedOutputStream(Channels.newOutputStream(ch)))
    require(input.readInt() == MAGIC) { "not a kotlind request" }
    val sources = input.readSources(intArrayOf(MAX_BYTES), MAX_FILES)
    if (!compiling.tryAcquire()) {
        // Busy with another client's compile: this build compiles by itself, now.
        log("kotlind: busy; a client compiles by itself")
        output.writeAnswer(Answer(75, ByteArray(0), emptyList()))
        return
    }
    val answer = try {
        // A client that is gone (its run was stopped) gets no compile.
        ch.configureBlocking(false)
        val gone = ch.read(ByteBuffer.allocate(1))
        ch.configureBlocking(true)
        if (gone < 0) {
            log("kotlind: a client left before its compile")
            return
        }
        val done = AtomicBoolean(false)
        watchClient(ch, done)
        val started = System.nanoTime()
        val compiled = try {
            compile(sources)
        } finally {
            done.set(true)
        }
        val ms = (System.nanoTime() - started) / 1_000_000
        log("kotlind: compiled ${sources.size} file(s) in $ms ms, exit ${compiled.exitCode}")
        compiled
    } finally {
        compiling.release()
    }
    output.writeAnswer(answer)
}

private fun DataOutputStream.writeAnswer(answer: Answer) {
    writeInt(answer.exitCode)
    writeBlob(answer.diagnostics)
    writeSources(answer.files)
    flush()
}

/** While a compile runs, waits for its client to go: a compile nobody waits for ends the
 *  daemon (the runner starts another before the next run), rather than keep the next builds
 *  from a warm compiler. */
private fun watchClient(ch: SocketChannel, done: AtomicBoolean) {
    val watcher = Thread(null, {
        val buf = ByteBuffer.allocate(64)
        try {
            while (ch.read(buf) >= 0) buf.clear()
        } catch (e: java.io.IOException) {
            // Closed: by us after the answer, or by the client.
        }
        if (!done.get()) {
            log("kotlind: a client left during its compile; cancelling it (the daemon ends)")
            Runtime.getRuntime().halt(3)
        }
    }, "kotlind-watch", 256L shl 10)
    watcher.isDaemon = true
    watcher.start()
}

/** Lines logged so far: the log is capped, so that requests cannot fill its tmpfs. */
private var logged = 0

@Synchronized
private fun log(line: String) {
    if (logged++ < 2000) System.err.println(if (line.length > 300) line.take(300) + "…" else line)
}

private fun watchdog() {
    val thread = Thread {
        while (true) {
            Thread.sleep(1000)
            val started = compileStarted.get()
            if (started != 0L && System.currentTimeMillis() - started > COMPILE_LIMIT_MS) {
                log("kotlind: a compile ran over ${COMPILE_LIMIT_MS / 1000} s; ending")
                Runtime.getRuntime().halt(3)
            }
        }
    }
    thread.isDaemon = true
    thread.start()
}

/** Compiles `sources` (named as the client's kotlinc would print them) into fresh scratch,
 *  made 0700 (nothing of one run's sources or classes is readable by another run) and deleted
 *  before the answer goes. */
private fun compile(sources: List<Source>): Answer {
    require(sources.isNotEmpty()) { "no sources" }
    SCRATCH.toFile().deleteRecursively()
    Files.createDirectory(SCRATCH, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")))
    try {
        return compileIn(sources)
    } finally {
        SCRATCH.toFile().deleteRecursively()
    }
}

private fun compileIn(sources: List<Source>): Answer {
    val out = SCRATCH.resolve("out")
    Files.createDirectories(out)
    val paths = sources.mapIndexed { i, source ->
        val base = Paths.get(source.name).fileName?.toString() ?: ""
        require(NAME.matches(base)) { "not a Kotlin source name" }
        val dir = SCRATCH.resolve("src").resolve(i.toString())
        Files.createDirectories(dir)
        dir.resolve(base).also { Files.write(it, source.bytes) }
    }
    val diagnostics = ByteArrayOutputStream()
    compileStarted.set(System.currentTimeMillis())
    val code = try {
        K2JVMCompiler().exec(
            PrintStream(diagnostics, true, Charsets.UTF_8),
            "-no-stdlib", "-no-reflect", "-cp", STDLIB, "-d", out.toString(),
            *paths.map { it.toString() }.toTypedArray(),
        ).code
    } finally {
        compileStarted.set(0)
    }
    // The compiler names our scratch copies (absolute, or relative to our directory): the
    // candidate sees the names their own build would have printed.
    var text = diagnostics.toString(Charsets.UTF_8)
    val cwd = Paths.get("").toAbsolutePath()
    for ((path, source) in paths.zip(sources)) {
        // As kotlinc prints them when the build runs it in /workspace: relative to it.
        val shown = source.name.removePrefix("/workspace/")
        text = text.replace(path.toString(), shown)
        if (path.startsWith(cwd)) text = text.replace(cwd.relativize(path).toString(), shown)
    }
    val files = Files.walk(out).use { walk ->
        walk.filter { Files.isRegularFile(it) }
            .map { Source(out.relativize(it).toString(), Files.readAllBytes(it)) }
            .toList()
    }
    return Answer(code, text.toByteArray(), files)
}
