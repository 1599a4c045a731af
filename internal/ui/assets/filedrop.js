// hubkit — the file drop's upload form, enhanced. Without this file the form
// posts every file in one multipart request, which works but cannot show
// progress or survive a dropped connection. With it, the form's fields
// create a draft, each file is sent in chunks through the resumable upload
// API (POST /drops/{id}/uploads, PATCH with Upload-Offset, HEAD to find
// where a cut chunk stopped, POST …/finish), and the draft is sealed when
// every file has arrived. If anything fails, the draft is withdrawn, so
// nothing half-sent is ever delivered.
"use strict";

(function () {
  var CHUNK = 4 * 1024 * 1024; // bytes per PATCH
  var RETRIES = 5;             // attempts per chunk after a network error

  // Problem is an answer of the hub that ends the upload.
  function Problem(message) { this.message = message; }

  function setup(form) {
    var csrf = form.getAttribute("data-csrf");
    var input = document.getElementById("files");
    var zone = document.getElementById("dropzone");
    var zoneHint = document.getElementById("dropzone-hint");
    var chosen = document.getElementById("chosen-files");
    var box = document.getElementById("upload-progress-box");
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var errBox = document.getElementById("upload-error");
    var errText = document.getElementById("upload-error-text");
    var submit = document.getElementById("drop-submit");
    var maxFileBytes = Number(form.getAttribute("data-max-file-bytes"));
    var maxFiles = Number(form.getAttribute("data-max-files"));
    if (!csrf || !input || !bar || !window.fetch || !window.FormData || !window.Blob) return;

    function text(key, arg) {
      var s = status.getAttribute("data-text-" + key) || "";
      return arg === undefined ? s : s.replace("%s", arg);
    }

    function setProgress(percent) {
      var v = String(Math.max(0, Math.min(100, Math.floor(percent))));
      bar.setAttribute("value", v);
      bar.textContent = v + " %";
    }

    function showChosen() {
      while (chosen.firstChild) chosen.removeChild(chosen.firstChild);
      Array.prototype.forEach.call(input.files || [], function (f) {
        var li = document.createElement("li");
        li.textContent = f.name;
        chosen.appendChild(li);
      });
      chosen.hidden = !input.files || input.files.length === 0;
    }

    // Drag and drop: the dropped files become the input's files, so the
    // form works the same whichever way they were chosen.
    if (zone) {
      if (zoneHint) zoneHint.hidden = false;
      ["dragenter", "dragover"].forEach(function (type) {
        zone.addEventListener(type, function (e) {
          e.preventDefault();
          zone.classList.add("is-dragover");
        });
      });
      ["dragleave", "drop"].forEach(function (type) {
        zone.addEventListener(type, function () { zone.classList.remove("is-dragover"); });
      });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        if (e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files.length > 0) {
          input.files = e.dataTransfer.files;
          showChosen();
        }
      });
    }
    input.addEventListener("change", showChosen);

    function api(method, url, body, headers) {
      var h = { "X-CSRF-Token": csrf, "Accept": "application/json" };
      Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
      return fetch(url, { method: method, body: body, headers: h, credentials: "same-origin" });
    }

    // problem turns a refusal into a Problem with the hub's own message.
    function problem(resp) {
      return resp.json().then(function (j) {
        return new Problem(j && j.error ? j.error : text("failed"));
      }, function () {
        return new Problem(text("failed"));
      });
    }

    function expect(resp, ok) {
      if (ok.indexOf(resp.status) >= 0) return resp;
      return problem(resp).then(function (p) { throw p; });
    }

    function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

    // sendFile sends one file in chunks, resuming after network errors at
    // the offset the hub reports.
    async function sendFile(uploadsURL, file, before, total) {
      var begin = await api("POST", uploadsURL, JSON.stringify({ name: file.name, size: file.size }),
        { "Content-Type": "application/json" }).then(function (r) { return expect(r, [201]); });
      var up = await begin.json();
      var offset = up.offset || 0;
      var failures = 0;
      status.textContent = text("uploading", file.name);
      while (offset < file.size) {
        var chunk = file.slice(offset, Math.min(offset + CHUNK, file.size));
        var resp;
        try {
          resp = await api("PATCH", up.url, chunk,
            { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset) });
        } catch (networkError) {
          if (++failures > RETRIES) throw new Problem(text("failed"));
          status.textContent = text("retrying");
          await sleep(1000 * failures);
          try {
            var head = await api("HEAD", up.url);
            if (head.status === 200) offset = Number(head.headers.get("Upload-Offset"));
          } catch (e) { /* still offline: the next attempt tells */ }
          continue;
        }
        if (resp.status === 204 || resp.status === 409) {
          // 409: the hub stands elsewhere (a retried chunk had arrived); go on from there.
          offset = Number(resp.headers.get("Upload-Offset"));
          failures = 0;
          status.textContent = text("uploading", file.name);
        } else {
          throw await problem(resp);
        }
        setProgress(100 * (before + offset) / total);
      }
      await api("POST", up.url + "/finish").then(function (r) { return expect(r, [200]); });
    }

    async function run(files) {
      var dropID = "";
      submit.disabled = true;
      errBox.hidden = true;
      box.hidden = false;
      setProgress(0);
      status.textContent = text("preparing");
      try {
        var fields = new FormData();
        Array.prototype.forEach.call(form.elements, function (el) {
          if (el.name && el.type !== "file" && el.type !== "submit") fields.append(el.name, el.value);
        });
        fields.append("mode", "draft");
        var created = await api("POST", "/drops", fields).then(function (r) { return expect(r, [201]); });
        var draft = await created.json();
        dropID = draft.id;
        var total = files.reduce(function (n, f) { return n + f.size; }, 0) || 1;
        var before = 0;
        for (var i = 0; i < files.length; i++) {
          await sendFile(draft.uploads, files[i], before, total);
          before += files[i].size;
          setProgress(100 * before / total);
        }
        status.textContent = text("sealing");
        await api("POST", "/drops/" + dropID + "/seal").then(function (r) { return expect(r, [200]); });
        setProgress(100);
        status.textContent = text("done");
        window.location.assign("/drops/" + dropID + "?notice=sent");
      } catch (e) {
        if (dropID) {
          // Nothing half-sent stays behind: the draft and its files go.
          api("POST", "/drops/" + dropID + "/withdraw").catch(function () {});
        }
        box.hidden = true;
        errText.textContent = e instanceof Problem ? e.message : text("failed");
        errBox.hidden = false;
        submit.disabled = false;
        errBox.setAttribute("tabindex", "-1");
        errBox.focus();
      }
    }

    form.addEventListener("submit", function (e) {
      var files = Array.prototype.slice.call(input.files || []);
      if (files.length === 0) return; // the hub explains what is missing
      e.preventDefault();
      errBox.hidden = true;
      if (files.length > maxFiles) {
        errText.textContent = text("too-many");
        errBox.hidden = false;
        return;
      }
      for (var i = 0; i < files.length; i++) {
        if (files[i].size > maxFileBytes) {
          errText.textContent = text("too-large");
          errBox.hidden = false;
          return;
        }
      }
      run(files);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("drop-form");
    if (form) setup(form);
  });
})();
