// The console's in-browser inclusion check (RFC 9162, section 2.1.3.2), with WebCrypto
// SHA-256: the entry's leaf hash is recomputed from its bytes, the proof's path walked to a
// root, and that root compared with the signed checkpoint's shown on the page.
"use strict";

(function () {
  const form = document.getElementById("inclusion-check");
  const result = document.getElementById("proof-result");
  if (!form || !result) {
    return;
  }

  function fromHex(text) {
    if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) {
      throw new Error("a hash is not hexadecimal");
    }
    const bytes = new Uint8Array(text.length / 2);
    for (let i = 0; i < bytes.length; i += 1) {
      bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    }
    return bytes;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function fromBase64(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  async function sha256(...parts) {
    const length = parts.reduce((sum, part) => sum + part.length, 0);
    const joined = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  }

  const LEAF = new Uint8Array([0]);
  const NODE = new Uint8Array([1]);

  // The root an inclusion proof leads to, or an Error (RFC 9162, 2.1.3.2).
  async function rootFromInclusion(leafIndex, treeSize, leafHash, proof) {
    if (leafIndex >= treeSize) {
      throw new Error("the entry is not in a tree of that size");
    }
    let fn = leafIndex;
    let sn = treeSize - 1;
    let r = leafHash;
    for (const p of proof) {
      if (p.length !== 32) {
        throw new Error("a hash of the proof is not 32 bytes");
      }
      if (sn === 0) {
        throw new Error("the proof is too long");
      }
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(NODE, p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = await sha256(NODE, r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) {
      throw new Error("the proof is too short");
    }
    return r;
  }

  function show(outcome, text) {
    result.dataset.outcome = outcome;
    result.textContent = text;
  }

  async function fetchJson(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 404) {
      throw new Error("no such entry is visible to this key");
    }
    if (!response.ok) {
      throw new Error(`the console answered ${response.status}`);
    }
    return response.json();
  }

  async function check(leafIndex) {
    const prefix = form.dataset.prefix;
    const root = form.dataset.root;
    const size = Number(form.dataset.size);
    const entry = await fetchJson(`${prefix}/api/entries/${leafIndex}`);
    const query = new URLSearchParams({ leaf_index: String(leafIndex), tree_size: String(size) });
    const proof = await fetchJson(`${prefix}/api/proofs/inclusion?${query}`);
    const leafHash = await sha256(LEAF, fromBase64(entry.canonical));
    const reached = await rootFromInclusion(leafIndex, size, leafHash, proof.hashes.map(fromHex));
    if (toHex(reached) !== root) {
      throw new Error("the proof does not lead to the signed root");
    }
    return size;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const leafIndex = Number(form.elements.leaf_index.value);
    if (!Number.isSafeInteger(leafIndex) || leafIndex < 0) {
      show("refused", "Refused: give an entry's leaf index (0 or more).");
      return;
    }
    show("checking", `Checking entry ${leafIndex}…`);
    try {
      const size = await check(leafIndex);
      show("verified", `Verified: entry ${leafIndex} is in the signed tree of ${size} entries.`);
    } catch (error) {
      show("refused", `Refused: entry ${leafIndex}: ${error.message}.`);
    }
  });
})();
