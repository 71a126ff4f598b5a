/* htmx under the Content-Security-Policy (config/settings/base.py, SECURE_CSP). Loaded right after htmx, before it
 * starts; a page's <meta name="htmx-config"> adds its own keys on top of these.
 *
 *   allowEval: false               nothing here uses hx-on, js: values or trigger filters, and the policy has no
 *                                  'unsafe-eval': say so up front rather than fail at the first event
 *   allowScriptTags: false         a swapped fragment never runs a <script> (htmx would re-create it, and with a
 *                                  nonce that would defeat the policy; no fragment carries one)
 *   includeIndicatorStyles: false  htmx would inject a <style> without a nonce; its two rules are in app.css
 */
(function () {
  "use strict";
  if (!window.htmx) return;
  htmx.config.allowEval = false;
  htmx.config.allowScriptTags = false;
  htmx.config.includeIndicatorStyles = false;
})();
