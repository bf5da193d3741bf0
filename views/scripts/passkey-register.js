// Making a passkey ("Add a passkey" on /account, "Create a passkey" when offered after a sign-in):
// each form[data-passkey-creation] is shown only where the browser can make one. It asks the issuer
// for a challenge, lets the authenticator make the credential, then posts it with the form. When the
// issuer answers the challenge request with anything but options (a fresh sign-in is needed, the
// sign-in expired), the form is sent without a credential and the issuer's page says why.
(function () {
  if (!window.PublicKeyCredential || !window.SimpleWebAuthnBrowser) return;
  var forms = document.querySelectorAll('form[data-passkey-creation]');
  Array.prototype.forEach.call(forms, function (form) {
    var problem = form.querySelector('.passkey-problem');
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      problem.hidden = true;
      fetch(form.dataset.passkeyCreation, {
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
  });
})();
