// labelkit studio: live preview of the edited rule (no framework, no CDN).
(function () {
  "use strict";
  var form = document.getElementById("rule-form");
  if (!form) { return; }
  var preview = document.getElementById("preview");
  var kind = document.getElementById("kind");
  var csrf = document.querySelector('meta[name="csrf"]').getAttribute("content");
  var timer = null;
  var sequence = 0;

  function showFieldsForKind() {
    var labels = form.querySelectorAll("[data-kinds]");
    for (var i = 0; i < labels.length; i++) {
      var kinds = labels[i].getAttribute("data-kinds").split(" ");
      labels[i].hidden = kinds.indexOf(kind.value) < 0;
    }
  }

  function refresh() {
    var mine = ++sequence;
    preview.classList.add("busy");
    fetch("/preview", {method: "POST", body: new URLSearchParams(new FormData(form)),
                       headers: {"X-CSRF-Token": csrf},
                       credentials: "same-origin"})
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (mine !== sequence) { return; }  // a newer edit is on its way
        preview.innerHTML = html;  // server-rendered, every data value escaped
        preview.classList.remove("busy");
        preview.setAttribute("data-sequence", String(mine));
      })
      .catch(function () { preview.classList.remove("busy"); });
  }

  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 200);
  }

  kind.addEventListener("change", showFieldsForKind);
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  showFieldsForKind();
  refresh();
})();
