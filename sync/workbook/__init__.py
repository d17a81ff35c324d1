"""The workbook as files: the xlsx package and the CSV folder, read and patched in place.

Below the cells' meaning (no mapping, no records): `parts` finds a package's parts by following its
relationships, `cells` builds and edits cell XML (one escaping for every writer), `scan` reads sheets,
`styles` finds or adds cell formats, `csvfiles` reads and saves one CSV file as it is, `save` copies a
package with some parts replaced and puts it in place atomically (guard, one `.bak`), `stage` is a
run's one write. On top, the workbook update of the two-way sync (`update.apply_workbook_changes`):
`planner` (what changes where), `patch` (the xlsx XML), `csvfolder` (the CSV target), `owned`
(Konflikte, Löschungen). writeback.py, sync/sheet/ and origin.py use the lower layer too.
"""
