/* 目标申报 drafting page: live quality checks while typing (POST the unsaved form as JSON to
   goals.check, which runs kb.quality), row numbers after reordering, Enter in the search box
   searches. No inline scripts (CSP); the page works without this file, checks then run on save. */
(function () {
  "use strict";

  var PROJECT_FIELDS = ["name", "amount", "fiscal_amount", "kind", "category", "period",
                        "implementing_unit", "contact", "description"];
  var ROW_FIELDS = ["id", "code", "name", "level1", "level2", "nature", "operator", "target", "unit",
                    "formula", "definition", "basis_note", "remarks"];

  function value(scope, name) {
    var field = scope.querySelector('[name="' + name + '"]');
    return field ? field.value : "";
  }

  function collect(form) {
    var project = {};
    PROJECT_FIELDS.forEach(function (name) { project[name] = value(form, name); });
    var rows = [];
    form.querySelectorAll("tr[data-row]").forEach(function (tr) {
      var row = {};
      ROW_FIELDS.forEach(function (name) { row[name] = value(tr, "row_" + name); });
      rows.push(row);
    });
    return {
      project: project,
      long_term_objective: value(form, "long_term_objective"),
      annual_objective: value(form, "annual_objective"),
      rows: rows
    };
  }

  function numberRows(form) {
    form.querySelectorAll("tr[data-row]").forEach(function (tr, index) {
      var label = tr.querySelector("[data-row-label]");
      if (label) { label.textContent = String(index + 1); }
    });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function render(panel, form, result) {
    var list = panel.querySelector("[data-findings-list]");
    var summary = panel.querySelector("[data-findings-summary]");
    list.textContent = "";
    result.findings.forEach(function (f) {
      var item = element("li", "finding finding-" + f.severity);
      item.setAttribute("data-rule", f.rule);
      if (f.row) { item.setAttribute("data-row-number", String(f.row)); }
      var isError = f.severity === "error";
      item.appendChild(element("span", "badge " + (isError ? "badge-danger" : "badge-warn"), isError ? "必须改正" : "提示"));
      if (f.row) { item.appendChild(element("span", "finding-row", "第 " + f.row + " 行")); }
      item.appendChild(element("span", "finding-message", f.message));
      item.appendChild(element("span", "finding-fix", "建议：" + f.fix));
      list.appendChild(item);
    });
    summary.textContent = "";
    if (!result.findings.length) {
      summary.appendChild(element("span", "badge badge-certified", "全部通过"));
      summary.appendChild(document.createTextNode(" 可以提交评审。"));
    } else {
      summary.appendChild(document.createTextNode("必须改正 "));
      summary.appendChild(element("strong", "", String(result.errors)));
      summary.appendChild(document.createTextNode(" 条 · 提示 "));
      summary.appendChild(element("strong", "", String(result.warnings)));
      summary.appendChild(document.createTextNode(" 条"));
    }
    var flagged = {};
    result.findings.forEach(function (f) {
      if (f.row) { flagged[f.row] = flagged[f.row] === "error" ? "error" : f.severity; }
    });
    form.querySelectorAll("tr[data-row]").forEach(function (tr, index) {
      tr.classList.toggle("row-error", flagged[index + 1] === "error");
      tr.classList.toggle("row-warning", flagged[index + 1] === "warning");
    });
  }

  function setupChecks(form, panel) {
    var url = panel.getAttribute("data-check-url");
    var state = panel.querySelector("[data-findings-state]");
    var timer = null;
    var sequence = 0;

    function run() {
      var mine = ++sequence;
      panel.setAttribute("aria-busy", "true");
      state.textContent = "检查中…";
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "X-CSRFToken": window.kbCsrfToken ? window.kbCsrfToken() : ""},
        body: JSON.stringify(collect(form))
      }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (result) {
        if (mine !== sequence) { return; }  // a newer check is on its way
        render(panel, form, result);
        state.textContent = "已按当前填写内容检查（尚未保存）";
      }).catch(function () {
        if (mine === sequence) { state.textContent = "暂时无法检查，保存时会再检查"; }
      }).then(function () {
        if (mine === sequence) { panel.removeAttribute("aria-busy"); }
      });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(run, 500);
    }

    form.addEventListener("input", function (event) {
      if (event.target.name === "q" || event.target.name === "pick") { return; }
      later();
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === "pick" || event.target.name === "bundle") { return; }
      later();
    });
    form.addEventListener("click", function (event) {
      if (event.target.closest("[data-move]")) {
        window.setTimeout(function () { numberRows(form); later(); }, 0);
      }
    });
    panel.addEventListener("click", function (event) {  // jump to the row a finding is about
      var item = event.target.closest("[data-row-number]");
      if (!item) { return; }
      var row = form.querySelectorAll("tr[data-row]")[Number(item.getAttribute("data-row-number")) - 1];
      if (row) {
        row.scrollIntoView({block: "center"});
        var input = row.querySelector("input:not([type=hidden]), select");
        if (input) { input.focus(); }
      }
    });
  }

  function setupSearchEnter(form) {
    var box = form.querySelector('input[name="q"]');
    var button = form.querySelector('button[name="action"][value="search"]');
    if (!box || !button) { return; }
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); button.click(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-goal-form]");
    if (!form) { return; }
    numberRows(form);
    setupSearchEnter(form);
    var panel = document.getElementById("findings");
    if (panel && panel.getAttribute("data-check-url") && window.fetch) { setupChecks(form, panel); }
  });
})();
