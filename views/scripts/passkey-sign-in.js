// "Sign in with a passkey": only shown where the browser can do it (the page works without script).
// Asks the issuer for a challenge bound to this sign-in, lets the authenticator answer, then posts
// the answer with the form, so the issuer answers as it does for a password.
(function () {
  var form = document.getElementById('passkey-sign-in');
  var problem = document.getElementById('passkey-problem');
  if (!form || !window.PublicKeyCredential || !window.SimpleWebAuthnBrowser) return;
  form.hidden = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    problem.hidden = true;
    fetch(form.dataset.options, {
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
})();
