// Passkeys on the sign-in pages (which all work without script):
// - the buttons ("Sign in with a passkey", "Use your passkey"), shown only where the browser can do
//   it: each asks the issuer for a challenge bound to this sign-in, lets the authenticator answer,
//   then posts the answer with its form, so the issuer answers as it does for a password or a code;
// - the passkeys in the email field's autofill (conditional mediation), where the browser offers it:
//   the request waits in the background from page load; any other submit aborts it first, and it is
//   made again before its challenge expires;
// - the passkey_capable fields, telling the issuer this browser can make a passkey on this device,
//   so a password sign-in may offer once to create one.
(function () {
  if (!window.PublicKeyCredential || !window.SimpleWebAuthnBrowser) return;
  var webauthn = window.SimpleWebAuthnBrowser;
  // The issuer keeps a sign-in challenge for 300 seconds: a waiting autofill request is renewed before.
  var AUTOFILL_RENEW_MS = 240 * 1000;
  var autofillForm = document.querySelector('form[data-passkey-autofill]');
  var autofillTimer;

  function challengeFor(form) {
    return fetch(form.dataset.passkeyOptions, {
      method: 'POST',
      body: new URLSearchParams({ csrf: form.elements.csrf.value }),
      credentials: 'same-origin',
    }).then(function (response) {
      if (!response.ok) throw new Error('no options');
      return response.json();
    });
  }

  function answerWith(form, answer) {
    form.elements.response.value = JSON.stringify(answer);
    form.submit();
  }

  function waitInAutofill() {
    clearTimeout(autofillTimer);
    challengeFor(autofillForm)
      .then(function (options) {
        autofillTimer = setTimeout(waitInAutofill, AUTOFILL_RENEW_MS);
        return webauthn.startAuthentication({ optionsJSON: options, useBrowserAutofill: true });
      })
      .then(function (answer) {
        clearTimeout(autofillTimer);
        answerWith(autofillForm, answer);
      })
      .catch(function () {
        // Aborted (another submit, a renewal) or refused: the page's other ways stay.
      });
  }

  // Any submit by the person (the password, a link, a button) first ends a waiting autofill request.
  document.addEventListener(
    'submit',
    function () {
      clearTimeout(autofillTimer);
      webauthn.WebAuthnAbortService.cancelCeremony();
    },
    true,
  );

  Array.prototype.forEach.call(document.querySelectorAll('form[data-passkey-options]'), function (form) {
    var problem = form.querySelector('.passkey-problem');
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      problem.hidden = true;
      challengeFor(form)
        .then(function (options) {
          return webauthn.startAuthentication({ optionsJSON: options });
        })
        .then(function (answer) {
          answerWith(form, answer);
        })
        .catch(function () {
          problem.hidden = false;
          if (autofillForm) waitInAutofill();
        });
    });
  });

  if (autofillForm) {
    webauthn.browserSupportsWebAuthnAutofill().then(function (supported) {
      if (supported) waitInAutofill();
      else autofillForm = null;
    });
  }

  if (PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable) {
    PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable()
      .then(function (available) {
        if (!available) return;
        Array.prototype.forEach.call(document.querySelectorAll('input[name="passkey_capable"]'), function (input) {
          input.value = 'platform';
        });
      })
      .catch(function () {});
  }
})();
