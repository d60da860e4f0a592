//go:build js && wasm

// Command hashwasm is Ward's file hashing compiled to WebAssembly for the
// page /help/remove: a person hashes their images and videos in their own
// browser, with the code of "ward hash" (filehash.Bytes), so the hashes are
// the same bit for bit, and the files never leave the device. It is built
// by go generate in internal/web, which embeds the result.
//
// It sets, on its global object (of the page's worker, hash-worker.js):
//
//	wardHash(bytes: Uint8Array) -> {md5, sha256, pdq?, quality?, width?, height?, error?, tooLarge?}
//	wardDigestStart() -> id
//	wardDigestUpdate(id, chunk: Uint8Array)
//	wardDigestFinish(id) -> {md5, sha256}
//	wardLimits -> {maxBytes, maxPixels}
//
// The digest functions hash a file read in slices (a video of a gigabyte
// need not be in memory at once); wardHash takes files up to maxBytes.
package main

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"syscall/js"

	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/media"
)

func main() {
	g := js.Global()
	g.Set("wardHash", js.FuncOf(hashBytes))
	g.Set("wardDigestStart", js.FuncOf(digestStart))
	g.Set("wardDigestUpdate", js.FuncOf(digestUpdate))
	g.Set("wardDigestFinish", js.FuncOf(digestFinish))
	g.Set("wardLimits", map[string]any{
		"maxBytes":  float64(media.DefaultLimits.MaxBytes),
		"maxPixels": float64(media.DefaultLimits.MaxPixels),
	})
	g.Call("dispatchEvent", g.Get("Event").New("wardready"))
	select {} // the functions above run on the page's calls
}

// hashBytes is filehash.Bytes with ward hash's options (the defaults).
func hashBytes(_ js.Value, args []js.Value) any {
	if len(args) != 1 {
		return map[string]any{"error": "wardHash takes one Uint8Array"}
	}
	data := make([]byte, args[0].Get("length").Int())
	js.CopyBytesToGo(data, args[0])
	r := filehash.Bytes(data, filehash.Options{})
	out := map[string]any{"md5": r.MD5, "sha256": r.SHA256}
	if r.Err != nil {
		out["error"] = r.Err.Error()
		out["tooLarge"] = errors.Is(r.Err, media.ErrTooLarge)
		return out
	}
	out["pdq"] = r.PDQ.String()
	out["quality"] = r.Quality
	out["width"] = r.Width
	out["height"] = r.Height
	return out
}

// digests are the streaming digests in progress, by id.
var (
	digests = map[int][2]hash.Hash{}
	next    int
)

func digestStart(js.Value, []js.Value) any {
	next++
	digests[next] = [2]hash.Hash{md5.New(), sha256.New()}
	return next
}

// chunk is the buffer chunks are copied into, kept between calls.
var chunk []byte

func digestUpdate(_ js.Value, args []js.Value) any {
	d, ok := digests[args[0].Int()]
	if !ok {
		return false
	}
	n := args[1].Get("length").Int()
	if cap(chunk) < n {
		chunk = make([]byte, n)
	}
	b := chunk[:n]
	js.CopyBytesToGo(b, args[1])
	d[0].Write(b)
	d[1].Write(b)
	return true
}

func digestFinish(_ js.Value, args []js.Value) any {
	id := args[0].Int()
	d, ok := digests[id]
	if !ok {
		return nil
	}
	delete(digests, id)
	return map[string]any{"md5": hex.EncodeToString(d[0].Sum(nil)), "sha256": hex.EncodeToString(d[1].Sum(nil))}
}
