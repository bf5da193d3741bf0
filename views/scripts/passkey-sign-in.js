// The passkey buttons of the sign-in pages ("Sign in with a passkey", "Use your passkey"): shown only
// where the browser can do it (the pages work without script). Each asks the issuer for a challenge
// bound to this sign-in, lets the authenticator answer, then posts the answer with its form, so the
// issuer answers as it does for a password or a code.
(function () {
  if (!window.PublicKeyCredential || !window.SimpleWebAuthnBrowser) return;
  var forms = document.querySelectorAll('form[data-passkey-options]');
  Array.prototype.forEach.call(forms, function (form) {
    var problem = form.querySelector('.passkey-problem');
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      problem.hidden = true;
      fetch(form.dataset.passkeyOptions, {
        method: 'POST',
        body: new URLSearchParams({ csrf: form.elements.csrf.value }),
        credentials: 'same-origin',
      })
        .then(function (response) {
          if (!response.ok) throw new Error('no options');
          return response.json();
        })
        .then(function (options) {
          return window.SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: options });
        })
        .then(function (answer) {
          form.elements.response.value = JSON.stringify(answer);
          form.submit();
        })
        .catch(function () {
          problem.hidden = false;
        });
    });
  });
})();
