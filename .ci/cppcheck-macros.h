/* Macros cppcheck cannot see (it does not read system headers): jansson's
 * iteration macros, by their documented meaning, so the loops they open
 * parse. Only 'make analyze' includes this file. */
#define json_array_foreach(array, index, value) \
	for ((index) = 0; (index) < json_array_size(array) && ((value) = json_array_get((array), (index))); (index)++)
#define json_object_foreach(object, key, value) \
	for ((key) = cppcheck_first_key(object); (key) && ((value) = json_object_get((object), (key))); \
	     (key) = cppcheck_next_key((object), (key)))
#define json_object_foreach_safe(object, n, key, value) json_object_foreach(object, key, value)
