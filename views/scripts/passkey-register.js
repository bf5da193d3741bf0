// "Add a passkey" on /account: shown only where the browser can make one. Asks the issuer for a
// challenge, lets the authenticator make the credential, then posts it with the form. When the
// issuer wants a fresh sign-in first, the form is sent without a credential and the issuer says so.
(function () {
  var form = document.getElementById('passkey-add');
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
      redirect: 'manual',
    })
      .then(function (response) {
        if (!response.ok) {
          form.submit();
          return undefined;
        }
        return response.json().then(function (options) {
          return window.SimpleWebAuthnBrowser.startRegistration({ optionsJSON: options }).then(function (answer) {
            form.elements.response.value = JSON.stringify(answer);
            form.submit();
          });
        });
      })
      .catch(function () {
        problem.hidden = false;
      });
  });
})();
