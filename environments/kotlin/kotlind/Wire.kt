// The resident-compiler protocol (docs/protocol.md, "Resident compilers"): one request and
// one answer per connection on a unix socket. The build's client is `livecode-compile`.
// A blob is a big-endian u32 length and its bytes; names are UTF-8.
//   request: u32 MAGIC, u32 n, n × (blob name, blob content)
//   answer:  u32 exit code, blob diagnostics, u32 n, n × (blob path, blob content)
package livecode.kotlind

import java.io.DataInputStream
import java.io.DataOutputStream

const val SOCKET = "/run/livecode/compiler.sock"
const val MAGIC = 0x4c434431 // "LCD1"
/** What a request may carry: a candidate's sources, not a dump of the disk. */
const val MAX_BYTES = 8 shl 20
const val MAX_FILES = 64

class Source(val name: String, val bytes: ByteArray)

class Answer(val exitCode: Int, val diagnostics: ByteArray, val files: List<Source>)

fun DataOutputStream.writeBlob(bytes: ByteArray) {
    writeInt(bytes.size)
    write(bytes)
}

/** Reads a blob within what is left of `budget[0]` bytes. */
fun DataInputStream.readBlob(budget: IntArray): ByteArray {
    val len = readInt()
    require(len >= 0 && len <= budget[0]) { "too large" }
    budget[0] -= len
    return readNBytes(len).also { require(it.size == len) { "cut short" } }
}

fun DataOutputStream.writeSources(files: List<Source>) {
    writeInt(files.size)
    for (f in files) {
        writeBlob(f.name.toByteArray(Charsets.UTF_8))
        writeBlob(f.bytes)
    }
}

fun DataInputStream.readSources(budget: IntArray, max: Int): List<Source> {
    val n = readInt()
    require(n in 0..max) { "too many files" }
    return List(n) { Source(String(readBlob(budget), Charsets.UTF_8), readBlob(budget)) }
}
