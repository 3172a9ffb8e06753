// The referral list's "Print this list" button (a static file: the Content-Security-Policy allows
// no inline script).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
