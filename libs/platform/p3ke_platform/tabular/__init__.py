"""Reading submitted tables (CSV, XLSX, Parquet) the same way in every service that takes uploads.

The plumbing is shared; what a service accepts stays in the service and is passed in as data:

* ``layout``: header normalisation and matching against a service's vocabulary of column names
  (``HeaderVocabulary``), and the one ``LayoutError``;
* ``sources``: format detection, the bounded sniffing of a CSV head (encoding, delimiter, header row),
  the Parquet schema, and the one-pass streaming of XLSX sheets into a staging Parquet of text columns;
* ``findings``: how a check on a row is described (``Check``) and the NIK checks every intake shares;
* ``archive_guard``: hostile ZIP/XLSX refused from the central directory before anything decompresses it
  (``ArchiveLimits`` from the ``upload_zip_*``/``upload_xlsx_*`` settings), and XLSX shared strings kept on disk;
* ``csv_safe``: the one OWASP rule that keeps a formula-leading cell text in every CSV written for people.

Heavy libraries (pyarrow, openpyxl) are imported inside the functions that need them.
"""
