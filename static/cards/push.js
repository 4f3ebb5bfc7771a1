// Web push on the card's inbox: shown only when the merchant has a VAPID key; on iOS the
// card must be opened from the home screen first, so we show how instead of the button.
(function () {
  var box = document.getElementById("push");
  if (!box) return;
  var ios = /iphone|ipad|ipod/i.test(navigator.userAgent);
  var standalone = window.navigator.standalone === true ||
    (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches);
  var supported = "serviceWorker" in navigator && "PushManager" in window;
  var state = document.getElementById("push-state");
  var button = document.getElementById("push-subscribe");
  if (ios && !standalone) {
    box.hidden = false;
    button.hidden = true;
    document.getElementById("ios-hint").hidden = false;
    return;
  }
  if (!supported) return;
  box.hidden = false;
  function key(base64) {
    var padded = (base64 + "===".slice((base64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  button.addEventListener("click", function () {
    navigator.serviceWorker.register(box.dataset.sw).then(function (reg) {
      return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key(box.dataset.key)});
    }).then(function (sub) {
      return fetch(box.dataset.url, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()}, body: JSON.stringify(sub)});
    }).then(function (resp) {
      return resp.json().then(function (data) {
        state.textContent = resp.ok ? "✓" : (data.error || resp.status);
        if (resp.ok) button.hidden = true;
      });
    }).catch(function (err) { state.textContent = String(err); });
  });
})();
