"""The photo services, one client each: Openverse, Wikimedia Commons, iNaturalist, and Flickr (search, feed),
with the JSON request every key-less one shares."""
