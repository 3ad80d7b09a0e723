// Document list: send an upload or pasted text with XMLHttpRequest to show upload progress, then a
// "processing" state while the server extracts and tags the report; go to the document when done.
"use strict";

(function () {
  const csrf = document.getElementById("main").dataset.csrf;

  function kib(bytes) {
    return (bytes / 1024).toFixed(0) + " KiB";
  }

  for (const form of document.querySelectorAll("form.upload, form.paste")) {
    const busy = form.querySelector(".busy");
    const bar = busy.querySelector("progress");
    const status = busy.querySelector(".status");
    const button = form.querySelector("button[type=submit]");

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action"));
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        bar.value = Math.round((100 * e.loaded) / e.total);
        status.textContent = "Uploading… " + kib(e.loaded) + " of " + kib(e.total);
      });
      xhr.upload.addEventListener("load", () => {
        bar.removeAttribute("value"); // indeterminate while the server works
        status.textContent = "Processing… extracting text and tagging sentences";
      });
      xhr.addEventListener("load", () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = {}; }
        if (xhr.status === 201 && data.url) {
          status.textContent = "Done, opening the report…";
          window.location.assign(data.url);
          return;
        }
        button.disabled = false;
        bar.value = 0;
        const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail;
        status.textContent = "Failed: " + (detail || xhr.statusText || "error " + xhr.status);
      });
      xhr.addEventListener("error", () => {
        button.disabled = false;
        status.textContent = "Failed: the server could not be reached";
      });
      button.disabled = true;
      busy.hidden = false;
      bar.value = 0;
      status.textContent = "Uploading…";
      xhr.send(new FormData(form));
    });
  }
})();
