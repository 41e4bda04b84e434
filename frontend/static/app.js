// Plexus admin UI: small conveniences only. Every page works without this
// file (the Content-Security-Policy allows no inline script; this is the
// one script, served from the daemon itself).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons: <button data-copy="ID"> copies the text of #ID.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    if (!target) return;
    btn.hidden = false;
    var label = btn.querySelector("[data-copy-label]");
    btn.addEventListener("click", function () {
      // A read-only field (a secret shown once) copies its value.
      var text = target.tagName === "INPUT" ? target.value : target.innerText;
      var done = function () {
        if (label) label.textContent = "Copied";
        btn.classList.add("copied");
        setTimeout(function () {
          if (label) label.textContent = "Copy";
          btn.classList.remove("copied");
        }, 1600);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(target); });
      } else {
        selectText(target);
        try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: the person copies by hand */ }
      }
    });
  });

  // Flash messages: a dismiss button.
  document.querySelectorAll("[data-flash] [data-dismiss]").forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var flash = btn.closest("[data-flash]");
      if (flash) flash.remove();
    });
  });

  // A callback URL that follows the name typed for a new provider
  // (<div data-callback-base="URL-without-name" data-callback-field="ID">).
  document.querySelectorAll("[data-callback-base]").forEach(function (box) {
    var base = box.getAttribute("data-callback-base");
    var field = document.getElementById(box.getAttribute("data-callback-field"));
    var code = box.querySelector("code");
    if (!base || !field || !code) return;
    var initial = code.textContent;
    field.addEventListener("input", function () {
      var name = field.value.trim();
      code.textContent = /^[a-z0-9][a-z0-9_-]{0,62}$/.test(name) ? base + name : initial;
    });
  });

  // Slow forms (the passphrase takes a moment to check): say so on the
  // button and keep it from being sent twice.
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var btn = form.querySelector("button[type=submit]");
      if (!btn) return;
      btn.setAttribute("data-busy-label", btn.textContent);
      btn.textContent = form.getAttribute("data-busy");
      // After this event: a disabled button is not sent with the form.
      setTimeout(function () { btn.disabled = true; }, 0);
    });
  });

  // Forms that send themselves on change (the tenant switcher).
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    var button = form.querySelector("[data-autosubmit-button]");
    if (button) button.hidden = true;
    form.querySelectorAll("select").forEach(function (sel) {
      sel.addEventListener("change", function () { form.submit(); });
    });
  });
});

function selectText(el) {
  if (el.tagName === "INPUT") {
    el.select();
    return;
  }
  var range = document.createRange();
  range.selectNodeContents(el);
  var sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
}
