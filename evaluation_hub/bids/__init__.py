"""Bid packages on disk and the `bids` / `shuffle` commands: the thin I/O shell around `scoring`.

package_io   read a bid package directory into `scoring.package.parse_package`
shuffle_io   read shuffle manifests, seeds and published views
report       render a package check as text a centre admin reads (Simplified Chinese)
cli          `evaluation-hub bids check` and `evaluation-hub shuffle commit|view|verify`
"""
