// The page /help/remove: hashes the chosen files in the browser with
// Ward's own hashing compiled to WebAssembly (hash.wasm, the code of
// "ward hash", run by hash-worker.js), shows what will be sent, and
// sends only the hashes to POST /v1/public/victim-cases (a new case) or
// POST /v1/public/victim-cases/{case}/hashes (an existing one).
// The files never leave the device: no request carries their content.
"use strict";

(function () {
  const tool = document.getElementById("tool");
  if (!tool || typeof Worker === "undefined") {
    return;
  }
  const $ = (id) => document.getElementById(id);
  const text = tool.dataset; // the page's messages, in its language
  const say = (msg, vars) => msg.replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? String(vars[k]) : m));

  const form = $("hash-form");
  const input = $("files");
  const progress = $("progress");
  const preview = $("preview");
  const tbody = document.querySelector("#hashes tbody");
  const payload = $("payload");
  const sendError = $("send-error");
  const sendButton = $("send");

  // At most this many hashes go in one request: the API's limit.
  const batch = Number(text.batch);

  // results are the chosen files' hashes: {name, pdq?, quality?, md5, sha256, note}.
  let results = [];
  let hashing = false;
  let generation = 0; // of the files chosen: a new choice stops the hashing of the last

  tool.hidden = false;
  progress.textContent = text.loading;

  // The hashing runs in a worker (hash-worker.js), one file at a time.
  const worker = new Worker("/static/hash-worker.js");
  const pending = new Map(); // by id: {resolve, reject, onProgress}
  let nextID = 0;
  const ready = new Promise((resolve, reject) => {
    worker.addEventListener("message", (ev) => {
      const m = ev.data;
      if ("ready" in m) {
        return m.ready ? resolve() : reject(new Error(m.error));
      }
      const p = pending.get(m.id);
      if (!p) {
        return;
      }
      if ("progress" in m) {
        return p.onProgress(m.progress);
      }
      pending.delete(m.id);
      return "error" in m ? p.reject(new Error(m.error)) : p.resolve(m.result);
    });
    worker.addEventListener("error", () => reject(new Error("worker")));
  });
  ready.then(
    () => {
      if (!hashing && results.length === 0) {
        progress.textContent = text.ready;
      }
    },
    () => {
      progress.textContent = text.loadFailed;
    },
  );

  // hashInWorker hashes a file in the worker.
  function hashInWorker(file, onProgress) {
    return new Promise((resolve, reject) => {
      const id = ++nextID;
      pending.set(id, { resolve, reject, onProgress });
      worker.postMessage({ id, file });
    });
  }

  async function hashFile(file, n, total) {
    const r = await hashInWorker(file, (f) => {
      progress.textContent = say(text.reading, { n, total, percent: Math.floor(100 * f) });
    });
    const out = { name: file.name, md5: r.md5, sha256: r.sha256 };
    if (r.video) {
      out.note = text.video;
    } else if (r.tooLarge) {
      out.note = text.tooLarge;
    } else if (r.error) {
      out.note = text.notImage;
    } else {
      out.pdq = r.pdq;
      out.quality = r.quality;
      out.width = r.width;
      out.height = r.height;
    }
    return out;
  }

  // hashes are the hashes to send, each once.
  function hashes() {
    const seen = new Set();
    const out = [];
    for (const r of results) {
      for (const signal of ["pdq", "md5", "sha256"]) {
        const value = r[signal];
        if (value && !seen.has(signal + value)) {
          seen.add(signal + value);
          out.push({ signal, value });
        }
      }
    }
    return out;
  }

  function body() {
    const b = { hashes: hashes() };
    const contact = $("contact").value.trim();
    if (contact && !existing()) {
      b.contact = contact;
    }
    return b;
  }

  // existing returns the case and secret to add to, or null for a new case.
  function existing() {
    const c = $("add-case").value.trim();
    const s = $("add-secret").value.trim();
    return c || s ? { case: c, secret: s } : null;
  }

  function cell(tr, content) {
    const td = document.createElement("td");
    if (typeof content === "string") {
      td.textContent = content;
    } else {
      td.append(...content);
    }
    tr.append(td);
    return td;
  }

  function line(label, value, cls) {
    const div = document.createElement("div");
    const code = document.createElement("code");
    code.className = cls;
    code.textContent = value;
    div.append(label + ": ", code);
    return div;
  }

  function show() {
    tbody.replaceChildren();
    for (const r of results) {
      const tr = document.createElement("tr");
      tr.dataset.file = r.name;
      cell(tr, r.name).className = "file";
      const parts = [];
      if (r.pdq) {
        parts.push(line("PDQ", r.pdq, "pdq"));
        const q = document.createElement("div");
        q.className = "hint quality";
        q.dataset.quality = String(r.quality);
        q.textContent = say(text.quality, { quality: r.quality });
        parts.push(q);
      }
      if (r.md5) {
        parts.push(line("MD5", r.md5, "md5"), line("SHA-256", r.sha256, "sha256"));
      }
      if (r.note) {
        const p = document.createElement("div");
        p.className = "hint note";
        p.textContent = r.note;
        parts.push(p);
      }
      cell(tr, parts).className = "mono";
      tbody.append(tr);
    }
    payload.textContent = JSON.stringify(body(), null, 2);
    preview.hidden = results.length === 0;
  }

  input.addEventListener("change", async () => {
    const files = Array.from(input.files);
    const gen = ++generation;
    sendError.hidden = true;
    results = [];
    show();
    if (files.length === 0) {
      hashing = false;
      return;
    }
    hashing = true;
    try {
      await ready;
    } catch {
      hashing = false;
      return;
    }
    const out = [];
    for (let i = 0; i < files.length; i++) {
      progress.textContent = say(text.hashing, { n: i + 1, total: files.length });
      if (gen !== generation) {
        return;
      }
      try {
        out.push(await hashFile(files[i], i + 1, files.length));
      } catch {
        out.push({ name: files[i].name, note: text.unreadable });
      }
    }
    if (gen !== generation) {
      return;
    }
    results = out;
    hashing = false;
    progress.textContent = say(text.done, { total: files.length });
    show();
  });

  // The contact and the case fields change what is sent: the preview
  // shows it as it is.
  for (const id of ["contact", "add-case", "add-secret"]) {
    $(id).addEventListener("input", () => {
      payload.textContent = JSON.stringify(body(), null, 2);
    });
  }

  function fail(msg) {
    sendError.textContent = msg;
    sendError.hidden = false;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    sendError.hidden = true;
    if (hashing) {
      return fail(text.stillHashing);
    }
    const b = body();
    if (b.hashes.length === 0) {
      fail(text.noFiles);
      input.focus();
      return;
    }
    const ex = existing();
    if (ex && (!ex.case || !ex.secret)) {
      fail(text.addIncomplete);
      $(ex.case ? "add-secret" : "add-case").focus();
      return;
    }
    sendButton.disabled = true;
    try {
      await send(ex, b);
    } finally {
      sendButton.disabled = false;
      progress.textContent = "";
    }
  });

  // post sends one request of hashes, and returns the answer, or throws
  // the message to show.
  async function post(url, secret, b) {
    const headers = { "Content-Type": "application/json" };
    if (secret) {
      headers.Authorization = "Bearer " + secret;
    }
    let resp, answer;
    try {
      resp = await fetch(url, { method: "POST", headers, body: JSON.stringify(b), credentials: "omit", cache: "no-store" });
      answer = await resp.json().catch(() => ({}));
    } catch {
      throw new Error(text.network);
    }
    if (resp.status === 429) {
      throw new Error(say(text.busy, { seconds: resp.headers.get("Retry-After") || "60" }));
    }
    if (!resp.ok) {
      throw new Error(text.failed + " " + (answer.detail || answer.title || resp.statusText));
    }
    return answer;
  }

  // send sends the hashes in parts of at most batch (the API's limit per
  // request): the first opens the case (or adds to ex), the others add to
  // it with its secret.
  async function send(ex, b) {
    const parts = [];
    for (let i = 0; i < b.hashes.length; i += batch) {
      parts.push(b.hashes.slice(i, i + batch));
    }
    let caseNo = ex ? ex.case : "";
    let secret = ex ? ex.secret : "";
    let opened = null;
    for (let i = 0; i < parts.length; i++) {
      progress.textContent = text.sending;
      try {
        if (caseNo) {
          const a = await post("/v1/public/victim-cases/" + encodeURIComponent(caseNo) + "/hashes", secret, { hashes: parts[i] });
          caseNo = a.case || caseNo;
        } else {
          const first = { hashes: parts[i] };
          if (b.contact) {
            first.contact = b.contact;
          }
          opened = await post("/v1/public/victim-cases", "", first);
          caseNo = opened.case;
          secret = opened.secret;
        }
      } catch (err) {
        if (i > 0) {
          // The case exists: it is shown, and the fields are filled in
          // to send the rest again (hashes sent twice count once).
          done(ex, opened, caseNo, false);
          $("add-case").value = caseNo;
          $("add-secret").value = secret;
          fail(say(text.partly, { sent: i * batch, total: b.hashes.length }) + " " + err.message);
          return;
        }
        fail(err.message);
        return;
      }
    }
    done(ex, opened, caseNo, true);
  }

  // done shows the case: opened (the answer of its opening), or, when
  // hashes were added to an existing one, its number. Once all is sent,
  // nothing of the files is kept: the table and the choice go.
  function done(ex, opened, caseNo, all) {
    document.body.classList.add("sent");
    $("result").hidden = false;
    $("result-new").hidden = !opened;
    const added = $("result-added");
    added.hidden = !!opened;
    if (opened) {
      $("case").textContent = opened.case;
      $("secret").textContent = opened.secret;
      // More files chosen now go to this case, not a new one that would
      // replace the number and secret shown; and showing the services of
      // another country opens another tab, so that they stay on screen.
      $("add-case").value = opened.case;
      $("add-secret").value = opened.secret;
      $("services-form").target = "_blank";
    } else {
      added.textContent = say(text.added, { case: caseNo });
    }
    if (all) {
      results = [];
      input.value = "";
      if (!opened) {
        $("add-secret").value = "";
      }
      show();
    }
    $("result-heading").focus();
  }

  $("print").addEventListener("click", () => window.print());
})();
