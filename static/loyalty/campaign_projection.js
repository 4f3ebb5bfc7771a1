// The campaign form: recompute the projected monthly cost from the unsaved form whenever a
// field changes (POST to the admin's projection URL; nothing is saved).
(function () {
  "use strict";
  function setup() {
    var form = document.querySelector("form#campaign_form");
    var box = document.querySelector(".field-projected_cost .readonly");
    if (!form || !box) return;
    var url = form.getAttribute("data-projection-url") ||
      window.location.pathname.replace(/(\d+\/change|add)\/?$/, "projection/");
    var match = window.location.pathname.match(/(\d+)\/change\/?$/);
    var timer = null;
    function refresh() {
      var data = new FormData(form);
      if (match) data.append("_object_id", match[1]);
      fetch(url, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (result) {
          box.textContent = result.ok ? result.text : result.errors.join(" ");
        })
        .catch(function () {});
    }
    form.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    });
    refresh();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
