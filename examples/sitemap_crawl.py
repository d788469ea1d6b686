"""A web site through its sitemap: every page the sitemap lists becomes a document, then search it and ask it.

Run from the repository root:  python examples/sitemap_crawl.py --site URL [--allow-network CIDR ...] [--kb DIR]
(the site defaults to $SITE_URL; its sitemap is URL/sitemap.xml).

ragkit fetches no page from this machine or a private network unless told so: a link in a sitemap must not make it
read an internal service (cloud metadata, an admin port). A site on an intranet, or on 127.0.0.1 while you try this,
needs its network named: ``--allow-network 10.0.0.0/8`` (or ``127.0.0.0/8``), which becomes
``Fetcher(allow_networks=[...])``. Without it, such a sitemap is reported as skipped, with the reason.
Pages are fetched once per run; a page whose content did not change is neither parsed nor embedded again.
HTML pages are parsed by ``unstructured``: ``pip install -e '.[docs]'``.
"""

from __future__ import annotations

import argparse
import os
import sys

from ragkit.connectors import Fetcher, WebConnector

from ragkit import KnowledgeBase, Outcome

QUESTIONS = [
    "When is the ticketing system down for maintenance?",
    "How long does a firmware update take to install?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default=os.environ.get("SITE_URL"), help="the site's URL (default: $SITE_URL)")
    parser.add_argument("--allow-network", action="append", default=[], metavar="CIDR",
                        help="a private network the crawl may reach, such as 10.0.0.0/8 (repeat for more)")
    parser.add_argument("--kb", default="site.kb", help="knowledge-base directory (default: ./site.kb)")
    args = parser.parse_args()
    if not args.site:
        parser.error("name the site: --site URL, or set SITE_URL")
    site = args.site.rstrip("/")

    crawl = WebConnector(sitemaps=[f"{site}/sitemap.xml"], fetcher=Fetcher(allow_networks=args.allow_network))
    with KnowledgeBase.open(args.kb) as kb:
        report = kb.ingest(crawl)
        print("ingested:", report.counts())
        for item in report.items:
            if item.outcome is Outcome.SKIPPED:
                print(f"skipped {item.source}: {item.reason}")
        if not kb.stats()["documents"]:
            sys.exit("nothing to search: no page was ingested")
        print(f"knowledge base: {kb.stats()['documents']} pages, {kb.stats()['chunks']} chunks")
        for question in QUESTIONS:
            best = kb.search(question, k=1)[0]
            print(f"{question!r} -> {best.source.removeprefix(site)}")
            answer = kb.ask(question)
            print(f"A ({answer.status.value}, confidence {answer.confidence:.2f}): {answer.text}")
            for citation in answer.citations:
                print(f"   [{citation.number}] {citation.source.removeprefix(site)}")


if __name__ == "__main__":
    main()
