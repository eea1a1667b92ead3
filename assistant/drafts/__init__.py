"""Drafting: minutes (議事録案) from transcripts, PR articles (広報記事案) from notes, .docx export."""
