/* 模版导入: check the chosen file in the browser before uploading (type and size, in Chinese), and
   turn the “download a department's template” choice into its link. The server checks everything again. */
(function () {
  "use strict";

  function setupUpload(form) {
    var input = form.querySelector("[data-upload-file]");
    var error = form.querySelector("[data-upload-error]");
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
    function problem() {
      var file = input.files && input.files[0];
      if (!file) { return ""; }
      var name = file.name.toLowerCase();
      if (/\.(xlsm|xltm|xlam)$/.test(name)) { return "这是启用宏的文件，不能导入。请在 Excel/WPS 中另存为 .xlsx。"; }
      if (/\.(xls|et|ods)$/.test(name)) { return "请在 Excel/WPS 中把文件“另存为 Excel 工作簿（*.xlsx）”后再上传。"; }
      if (!/\.(xlsx|csv)$/.test(name)) { return "只能上传 .xlsx 或 .csv 文件。"; }
      if (maxBytes && file.size > maxBytes) {
        return "文件有 " + (file.size / 1048576).toFixed(1) + " MB，超过上限 " + Math.round(maxBytes / 1048576) + " MB，请拆分后再上传。";
      }
      return "";
    }
    function show() {
      var message = problem();
      error.textContent = message;
      error.hidden = !message;
      return message;
    }
    input.addEventListener("change", show);
    form.addEventListener("submit", function (event) {
      if (show()) { event.preventDefault(); event.stopImmediatePropagation(); }
    }, true);
  }

  function setupDepartmentLink(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var code = form.querySelector("select").value;
      window.location.href = form.getAttribute("action").replace("__CODE__", encodeURIComponent(code));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-upload]").forEach(setupUpload);
    document.querySelectorAll("form[data-department-link]").forEach(setupDepartmentLink);
  });
})();
