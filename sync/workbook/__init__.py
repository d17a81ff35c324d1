"""The xlsx package at the level of its parts: rels, sheet parts, cell XML, one atomic save.

`parts` finds a package's parts by following its relationships, `cells` builds and edits cell XML
(one escaping for every writer), `save` copies a package with some parts replaced and puts it in
place atomically (guard, one `.bak`). writeback.py, workbook_update.py, sheet.py and origin.py use it.
"""
