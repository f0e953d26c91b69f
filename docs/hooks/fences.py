"""mkdocs hook: drop the documentation tests' words from code fences before rendering.

The pages' fences may read "```python continuation" or "```python fragment" (see conftest.py
at the repository root); Python-Markdown's fences take only a language there, so the words
after `python` are removed from the opening fence before the page is rendered.
"""

import re

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})python(?:[ \t]+[\w:-]+)+[ \t]*$", re.MULTILINE
)


def on_page_markdown(markdown: str, **kwargs) -> str:
    return _FENCE.sub(r"\g<indent>\g<fence>python", markdown)
