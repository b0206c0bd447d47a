"""The 梳理模版 in Excel/WPS: generating the template, reading filled-in files, exporting.

``columns`` (the headers), ``values`` (cell text ↔ operator/number/unit), ``safety`` (upload
checks), ``reader`` (files → rows), ``rows`` (rows → indicator fields), ``template`` (the workbook),
``writer`` (exports), ``catalogue`` (the printable catalogue's data).
"""
