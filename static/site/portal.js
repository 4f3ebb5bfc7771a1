/* Page behaviours of the portal, kept out of the templates so the Content-Security-Policy
   needs no inline script. Elements opt in with data- attributes:
     data-confirm="text"      a submit button asks before submitting
     data-select-on-click     an input selects its text on click (links to copy)
     data-autosubmit          a select submits its form when changed
     data-print               a button prints the page
     data-share="#input"      shares (or copies) the link in that input; data-done is the
                              button's text afterwards
     #import-progress         an import run's progress box, polled until the run finishes
     #import-fixes            a dry run's rejected rows: each form.import-fix is checked in
                              place and shows the result (data-fixed is the success text) */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var target = event.target;
    var confirmer = target.closest && target.closest("[data-confirm]");
    if (confirmer && !window.confirm(confirmer.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (target.matches && target.matches("[data-select-on-click]")) {
      target.select();
    }
    if (target.closest && target.closest("[data-print]")) {
      window.print();
    }
    var sharer = target.closest && target.closest("[data-share]");
    if (sharer) {
      var link = document.querySelector(sharer.dataset.share).value;
      if (navigator.share) {
        navigator.share({url: link}).catch(function () {});
        return;
      }
      if (navigator.clipboard) {
        navigator.clipboard.writeText(link);
      }
      if (sharer.dataset.done) {
        sharer.textContent = sharer.dataset.done;
      }
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });

  function importProgress() {
    var box = document.getElementById("import-progress");
    if (!box || box.dataset.finished === "1") {
      return;
    }
    function show(id, text) {
      document.getElementById(id).textContent = text;
    }
    function poll() {
      fetch(box.dataset.url, {credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (data) {
          show("import-status", data.status_label);
          show("import-percent", data.progress + "%");
          show("import-rows", data.rows_processed);
          document.getElementById("import-bar").style.width = data.progress + "%";
          if (data.finished) {
            window.location.reload();
          } else {
            setTimeout(poll, 1500);
          }
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 1000);
  }

  function importFixes() {
    var box = document.getElementById("import-fixes");
    if (!box) {
      return;
    }
    box.querySelectorAll("form.import-fix").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var status = form.querySelector(".import-fix-status");
        fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          credentials: "same-origin",
          headers: {"Accept": "application/json"}
        })
          .then(function (response) { return response.json(); })
          .then(function (data) {
            status.textContent = "";
            status.classList.toggle("text-green-700", data.ok);
            status.classList.toggle("text-red-600", !data.ok);
            if (data.ok) {
              status.textContent = box.dataset.fixed;
              return;
            }
            data.errors.forEach(function (error) {
              var line = document.createElement("div");
              line.textContent = (error.column ? error.column + ": " : "") + error.message;
              status.appendChild(line);
            });
          });
      });
    });
  }

  function ready() {
    importProgress();
    importFixes();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
