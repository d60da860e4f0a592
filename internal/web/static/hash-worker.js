// The hashing of the page /help/remove, off the page's thread so that it
// stays responsive: hash.wasm (Ward's own hashing, as "ward hash") runs
// here. A message {id, file} is answered with {id, result}, or
// {id, error}; while a large file is read, {id, progress} (0 to 1).
"use strict";

importScripts("/static/wasm_exec.js");

// A file is read in slices of this size for the streaming digests.
const chunkSize = 4 << 20;

const ready = new Promise((resolve, reject) => {
  self.addEventListener("wardready", () => resolve(), { once: true });
  const go = new Go();
  WebAssembly.instantiateStreaming(fetch("/static/hash.wasm"), go.importObject)
    .then((r) => go.run(r.instance))
    .catch(reject);
});
ready.then(
  () => self.postMessage({ ready: true }),
  (err) => self.postMessage({ ready: false, error: String(err) }),
);

// digest hashes a file read in slices: MD5 and SHA-256 only.
async function digest(id, file) {
  const d = wardDigestStart();
  for (let off = 0; off < file.size; off += chunkSize) {
    const buf = await file.slice(off, off + chunkSize).arrayBuffer();
    wardDigestUpdate(d, new Uint8Array(buf));
    self.postMessage({ id, progress: Math.min(off + chunkSize, file.size) / file.size });
  }
  return wardDigestFinish(d);
}

// hash is the hashes of a file: of a picture up to the decoder's limit,
// wardHash (PDQ too); of a video or a larger file, the digests only.
async function hash(id, file) {
  if (file.type.startsWith("video/") || file.size > wardLimits.maxBytes) {
    const d = await digest(id, file);
    return { md5: d.md5, sha256: d.sha256, video: file.type.startsWith("video/"), tooLarge: !file.type.startsWith("video/") };
  }
  return wardHash(new Uint8Array(await file.arrayBuffer()));
}

self.addEventListener("message", async (ev) => {
  const { id, file } = ev.data;
  try {
    await ready;
    self.postMessage({ id, result: await hash(id, file) });
  } catch (err) {
    self.postMessage({ id, error: String(err) });
  }
});
