"""Judging photos: suspects (mislabelled or off-topic), novelty and the open set ("none of the labels")."""
