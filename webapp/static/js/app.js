/* Light progressive enhancement: instant suggestions, busy state on submit, confirmations,
   reordering by buttons. Every page works without it. No inline scripts (CSP script-src 'self'). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  window.kbCsrfToken = csrfToken;

  /* ---- instant suggestions on every search box with [data-suggest-input] ---- */
  function setupSuggest(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var url = input.getAttribute("data-suggest-url");
    var detailUrl = input.getAttribute("data-detail-url");
    if (!list || !url) { return; }
    var timer = null, active = -1, items = [], lastQuery = "";

    function close() { list.hidden = true; active = -1; input.setAttribute("aria-expanded", "false"); }
    function render() {
      list.innerHTML = "";
      items.forEach(function (item, index) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.id = list.id + "-" + index;
        li.setAttribute("aria-selected", index === active ? "true" : "false");
        var name = document.createElement("span");
        name.textContent = item.name;
        var where = document.createElement("small");
        where.textContent = (item.department || "共性指标") + " · " + item.code;
        li.appendChild(name);
        li.appendChild(where);
        li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(index); });
        list.appendChild(li);
      });
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
      if (active >= 0) { input.setAttribute("aria-activedescendant", list.id + "-" + active); }
    }
    function choose(index) {
      var item = items[index];
      if (!item) { return; }
      if (detailUrl) {
        window.location.href = detailUrl.replace("__CODE__", encodeURIComponent(item.code));
      } else {
        input.value = item.name;
        input.form.submit();
      }
    }
    function fetchSuggestions() {
      var q = input.value.trim();
      if (q === lastQuery) { return; }
      lastQuery = q;
      if (!q) { items = []; render(); return; }
      fetch(url + "?q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (data) {
          if (input.value.trim() !== q) { return; }
          items = Array.isArray(data) ? data : [];
          active = -1;
          render();
        })
        .catch(function () { items = []; render(); });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) { return; }
      if (event.key === "ArrowDown") { active = Math.min(items.length - 1, active + 1); render(); event.preventDefault(); }
      else if (event.key === "ArrowUp") { active = Math.max(-1, active - 1); render(); event.preventDefault(); }
      else if (event.key === "Enter" && active >= 0) { choose(active); event.preventDefault(); }
      else if (event.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  /* ---- long search text (a pasted project description) is posted: in a URL it would be refused (HTTP 414) ---- */
  document.querySelectorAll("form[role=search]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var input = form.querySelector("input[name=q]");
      var token = document.querySelector("meta[name=csrf-token]");
      if (!input || input.value.length <= 200 || !token) { return; }
      form.method = "post";
      var hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = "csrf_token"; hidden.value = token.getAttribute("content");
      form.appendChild(hidden);
    });
  });

  /* ---- busy state: a submitted form's button shows progress and cannot be pressed twice ---- */
  function setupBusy(form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
      var message = form.getAttribute("data-confirm");
      if (message && !window.confirm(message)) { event.preventDefault(); return; }
      form.setAttribute("aria-busy", "true");
      var button = event.submitter || form.querySelector("button[type=submit], button:not([type])");
      if (button) {
        button.setAttribute("aria-busy", "true");
        if (button.name) {  // keep the pressed button's value, which disabling would drop
          var hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = button.name; hidden.value = button.value;
          form.appendChild(hidden);
        }
        button.disabled = true;
      }
    });
  }

  /* ---- reorder: move rows up/down, the hidden inputs follow the row order ---- */
  function setupReorder(table) {
    table.addEventListener("click", function (event) {
      var button = event.target.closest("[data-move]");
      if (!button) { return; }
      event.preventDefault();
      var row = button.closest("tr");
      if (button.getAttribute("data-move") === "up" && row.previousElementSibling) {
        row.parentNode.insertBefore(row, row.previousElementSibling);
      } else if (button.getAttribute("data-move") === "down" && row.nextElementSibling) {
        row.parentNode.insertBefore(row.nextElementSibling, row);
      }
      button.focus();
    });
  }

  /* ---- add / remove basis rows on the indicator form ---- */
  function setupBasis(container) {
    var add = document.querySelector("[data-basis-add]");
    if (!add) { return; }
    add.addEventListener("click", function (event) {
      event.preventDefault();
      var rows = container.querySelectorAll(".basis-row");
      var template = rows[rows.length - 1];
      var copy = template.cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      container.appendChild(copy);
      copy.querySelector("input, select").focus();
    });
    container.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-basis-remove]");
      if (!remove) { return; }
      event.preventDefault();
      var rows = container.querySelectorAll(".basis-row");
      if (rows.length > 1) { remove.closest(".basis-row").remove(); }
    });
  }

  /* ---- level2 options follow level1 ---- */
  function setupLevels(select1) {
    var select2 = document.getElementById(select1.getAttribute("data-level2"));
    var tree = JSON.parse(select1.getAttribute("data-tree") || "{}");
    if (!select2) { return; }
    select1.addEventListener("change", function () {
      var current = select2.value;
      select2.innerHTML = "";
      (tree[select1.value] || []).forEach(function (name) {
        var option = document.createElement("option");
        option.value = name; option.textContent = name;
        if (name === current) { option.selected = true; }
        select2.appendChild(option);
      });
    });
  }

  /* ---- print buttons ---- */
  function setupPrint(button) {
    button.addEventListener("click", function (event) { event.preventDefault(); window.print(); });
  }

  /* ---- length limits said at the field: a counter instead of a silent cut at maxlength ---- */
  function setupCharLimit(input) {
    var max = parseInt(input.getAttribute("data-max-chars"), 10);
    var hint = document.createElement("p");
    hint.className = "hint char-count";
    hint.setAttribute("aria-live", "polite");
    if (input.id) { hint.id = input.id + "-count"; input.setAttribute("aria-describedby", hint.id); }
    input.insertAdjacentElement("afterend", hint);
    function update() {
      var count = Array.from(input.value).length;  /* characters as the server counts them */
      var over = count - max;
      hint.hidden = count < max * 0.8;
      hint.classList.toggle("is-over", over > 0);
      hint.textContent = over > 0
        ? "已输入 " + count + " 字，超过上限 " + max + " 字（多 " + over + " 字）：请精简，否则不能保存。"
        : count + " / " + max + " 字";
    }
    input.addEventListener("input", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-max-chars]").forEach(setupCharLimit);
    document.querySelectorAll("[data-suggest-input]").forEach(setupSuggest);
    document.querySelectorAll("form[method=post], form[data-busy]").forEach(setupBusy);
    document.querySelectorAll("[data-reorder]").forEach(setupReorder);
    document.querySelectorAll("[data-basis-list]").forEach(setupBasis);
    document.querySelectorAll("[data-level2]").forEach(setupLevels);
    document.querySelectorAll("[data-print]").forEach(setupPrint);
  });
})();
