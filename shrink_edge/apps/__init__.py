"""Putting a verified artifact into an Android or iOS project: metadata, helper code and build hooks."""
